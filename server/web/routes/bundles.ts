// POST /api/peer/bundles: a peer pushes one sealed bundle (the HTTP
// transport, server/transports/http.ts). The request is signed with the
// peer's node key (server/transports/http-auth.ts); the bundle inside is
// signed and encrypted on its own, so this check is about who may make the
// node work, not about trusting the mail.
//
// Registered under /api/peer, which the admin login (when there is one)
// must leave open: peers have no admin password, they have their key.
//
// The answer tells the sender whether to forget the bundle (2xx) or keep
// it for another try (anything else): a deferred import is a 503 with
// Retry-After, a bundle this node cannot use is a 422 with the reason.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest } from 'fastify'
import { randomBytes, createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { checkHeaders, verifyDigest, BUNDLES_PATH, PICKUP_PATH, PICKUP_TOKEN_HEADER, pickupDonePath, type AuthHeaders } from '../../transports/http-auth.js'
import { receiveBody, UploadTooLarge, type ReceivedBody } from '../../transports/http-upload.js'
import { frameBundles, PICKUP_CONTENT_TYPE } from '../../transports/pickup.js'
import { hopMark } from '../../base/hop-trace.js'

/**
 * The largest bundle accepted over HTTP. Export cuts bundles at about
 * 16 MiB of mail (compressed, usually much less); a single message may be
 * up to limits.max_message_bytes (30 MiB by default), so 64 MiB leaves room
 * for one large message plus its envelope.
 */
export const MAX_HTTP_BUNDLE_BYTES = 64 * 1024 * 1024
/** A pickup's body is empty; anything longer is refused before it is read. */
const MAX_PICKUP_BODY_BYTES = 1024
const EMPTY_SHA256 = createHash('sha256').digest('hex')
/** How long a sender waits after a deferred import (local delivery down for a moment). */
const RETRY_AFTER_S = 60

const Outcome = Type.Object({
  outcome: Type.Union([Type.Literal('imported'), Type.Literal('duplicate'), Type.Literal('deferred'), Type.Literal('quarantined'), Type.Literal('not-for-us')]),
  bundle: Type.Optional(Type.String()),
  delivered: Type.Optional(Type.Integer()),
  forwarded: Type.Optional(Type.Integer()),
  duplicates: Type.Optional(Type.Integer()),
  quarantined: Type.Optional(Type.Integer()),
  acked: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
})
const Refusal = Type.Object({ error: Type.String(), statusCode: Type.Integer() })
const Headers = Type.Object({
  'x-outpost-node': Type.String({ description: 'the sending node, by the name on its card' }),
  'x-outpost-date': Type.String({ description: 'milliseconds since 1970' }),
  'x-outpost-signature': Type.String({ description: 'base64url Ed25519 signature, see docs/transports/http.md' }),
})

/** How long a sender refused for "too many uploads at once" waits before it tries again. */
const BUSY_RETRY_AFTER_S = 5

/** What the peer routes know of one request between its headers and its answer. */
interface PeerRequest {
  headers: AuthHeaders
  /** Holds one of the unverified-upload slots until the body's signature is checked. */
  slot: boolean
  /** The temp file the body streamed to, until the request is done with it. */
  file?: string
  /** The import reads the file: it is removed when the import is done, not before. */
  importing?: boolean
}

const bundles: FastifyPluginAsyncTypebox = async (app) => {
  const state = new WeakMap<FastifyRequest, PeerRequest>()

  // Releases the slot and removes the temp file; safe to call more than
  // once, and called from every way a request can end (answered, failed,
  // or the sender went away), so no temp file or slot outlives it.
  const finish = (req: FastifyRequest) => {
    const s = state.get(req)
    if (!s) return
    if (s.slot) {
      s.slot = false
      app.bundleInbox.uploads.give()
    }
    if (s.file && !s.importing) {
      rmSync(s.file, { force: true })
      s.file = undefined
    }
  }

  // Scoped to this plugin: only the peer routes take raw bytes. The body is
  // not buffered: it streams to a temp file while it is hashed, and only a
  // body whose signature then checks out is read (see transports/http-upload.ts).
  app.addContentTypeParser('application/octet-stream', (req, payload, done) => {
    const s = state.get(req)
    const bundle = req.routeOptions.url?.endsWith('/bundles') === true
    const limit = bundle ? MAX_HTTP_BUNDLE_BYTES : MAX_PICKUP_BODY_BYTES
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) return done(new UploadTooLarge(limit), undefined)
    // Only a bundle's body is kept; a pickup's is only hashed (it must be empty to verify).
    const file = s && bundle ? join(app.bundleInbox.uploadDir, `${randomBytes(8).toString('hex')}.upload`) : undefined
    if (s && file) s.file = file
    receiveBody(payload, { limit, ...(file ? { file } : {}) }).then(
      (body) => done(null, body),
      (err: Error & { statusCode?: number }) => {
        // The sender went away, or the disk is full: nothing of it is kept.
        if (s && s.file === file) s.file = undefined
        done(err.statusCode ? err : Object.assign(new Error(`the body could not be received: ${err.message}`), { statusCode: 400 }), undefined)
      },
    )
  })

  // Before the body is read: a stranger, a stale date, a peer over its
  // rate, or more unverified uploads than the node takes at once is turned
  // away without the node reading any of the body.
  app.addHook('onRequest', async (req, reply) => {
    const h = checkHeaders(req.headers, (peer) => app.bundleInbox.signerFor(peer), app.bundleInbox.now())
    if (!h.ok) return reply.code(401).send({ error: h.reason, statusCode: 401 })
    // Per peer and address: a stranger who knows a peer's name cannot use
    // up that peer's allowance from elsewhere.
    const t = app.bundleInbox.take(`${h.peer}@${req.ip}`)
    if (!t.ok) return reply.code(429).header('retry-after', String(t.retryAfterS)).send({ error: `too many requests from node "${h.peer}"; try again in ${t.retryAfterS} s`, statusCode: 429 })
    if (!app.bundleInbox.uploads.take()) {
      return reply
        .code(503)
        .header('retry-after', String(BUSY_RETRY_AFTER_S))
        .send({ error: `this node is receiving ${app.bundleInbox.uploads.max} requests already; try again in ${BUSY_RETRY_AFTER_S} s`, statusCode: 503 })
    }
    state.set(req, { headers: h, slot: true })
    hopMark('peer.request')
  })
  app.addHook('onResponse', async (req) => {
    hopMark('peer.answered', String(req.raw.statusCode ?? ''))
    finish(req)
  })
  app.addHook('onRequestAbort', async (req) => finish(req))

  /** The signature over the received body; frees the upload slot either way. */
  const verified = (req: FastifyRequest, path: string) => {
    const s = state.get(req)
    if (!s) return { ok: false as const, reason: 'request not checked' }
    if (s.slot) {
      s.slot = false
      app.bundleInbox.uploads.give()
    }
    const body = req.body as ReceivedBody | undefined
    // A body of another type (JSON, text) was parsed, not hashed: it is not the signed one.
    if (body !== undefined && typeof body.sha256 !== 'string') return { ok: false as const, reason: 'a signed body must be sent as application/octet-stream' }
    return verifyDigest(s.headers, body?.sha256 ?? EMPTY_SHA256, app.bundleInbox.replay, app.bundleInbox.now(), path)
  }

  app.post(
    '/bundles',
    {
      // For every other content type (JSON, text), which Fastify's own
      // parsers would buffer: a bundle is only ever octet-stream, whose
      // parser above has its own limit and buffers nothing.
      bodyLimit: MAX_PICKUP_BODY_BYTES,
      schema: {
        headers: Headers,
        response: { 200: Outcome, 401: Refusal, 413: Refusal, 415: Refusal, 422: Outcome, 429: Refusal, 503: Type.Union([Outcome, Refusal]) },
      },
    },
    async (req, reply) => {
      const s = state.get(req)
      const body = req.body as ReceivedBody | undefined
      if (!s || !body?.file) {
        finish(req)
        return reply.code(415).send({ error: 'the body must be the bundle, sent as application/octet-stream', statusCode: 415 })
      }
      hopMark('peer.received')
      const v = verified(req, BUNDLES_PATH)
      if (!v.ok) {
        finish(req)
        return reply.code(401).send({ error: v.reason, statusCode: 401 })
      }
      hopMark('peer.verified')
      let o
      s.importing = true
      try {
        o = await app.bundleInbox.importFile(v.peer, body.file)
      } finally {
        s.importing = false
        finish(req)
      }
      switch (o.kind) {
        case 'imported':
          return reply.code(200).send({ outcome: 'imported', bundle: o.header.id, delivered: o.delivered, forwarded: o.forwarded, duplicates: o.duplicates, quarantined: o.quarantined, acked: o.acked })
        case 'duplicate':
          // Already ours: the sender may forget it.
          return reply.code(200).send({ outcome: 'duplicate', bundle: o.header.id })
        case 'deferred':
          return reply.code(503).header('retry-after', String(RETRY_AFTER_S)).send({ outcome: 'deferred', ...(o.header ? { bundle: o.header.id } : {}), reason: o.reason })
        case 'quarantined':
          return reply.code(422).send({ outcome: 'quarantined', reason: `the bundle was put in quarantine on this node: ${o.reason}` })
        case 'not-for-us':
          return reply.code(422).send({ outcome: 'not-for-us', bundle: o.header.id, reason: `the bundle is for node "${o.header.destination}", which is not this node; check the url of the transport that sent it` })
      }
    },
  )

  // POST /api/peer/pickup: the peer fetches what waits for it here (an
  // off-grid node behind NAT that reaches its gateway but cannot be reached
  // by it). The body is empty; the signature covers it and the path, so a
  // recorded pickup cannot be replayed and no one else can take the bundles.
  // Taking them changes nothing: they count as handed over only when the
  // peer confirms the answer's token (below), and mail leaves the outbox
  // only when the peer acks it.
  app.post(
    '/pickup',
    {
      // The body is empty (the signature covers it); a little room for a sender that sends a newline.
      bodyLimit: MAX_PICKUP_BODY_BYTES,
      schema: { headers: Headers, response: { 200: Type.Unknown({ description: `the waiting bundles, framed as in server/transports/pickup.ts; the ${PICKUP_TOKEN_HEADER} header names the answer for its confirmation` }), 401: Refusal, 404: Refusal, 413: Refusal, 503: Refusal } },
    },
    async (req, reply) => {
      const v = verified(req, PICKUP_PATH)
      if (!v.ok) return reply.code(401).send({ error: v.reason, statusCode: 401 })
      let picked
      try {
        picked = await app.bundleInbox.pickupFor(v.peer)
      } catch (err) {
        return reply.code(404).send({ error: (err as Error).message, statusCode: 404 })
      }
      if (picked.token) reply.header(PICKUP_TOKEN_HEADER, picked.token)
      return reply.code(200).header('content-type', PICKUP_CONTENT_TYPE).send(frameBundles(picked.bundles))
    },
  )

  // POST /api/peer/pickup/done/:token: the peer read a pickup answer whole
  // and imported it; only now do its bundles count as handed over. The
  // token is in the path, which the signature covers. An answer never
  // confirmed (the link dropped while it was on its way) is sent again by
  // the next pickup.
  app.post(
    '/pickup/done/:token',
    {
      bodyLimit: MAX_PICKUP_BODY_BYTES,
      schema: {
        headers: Headers,
        params: Type.Object({ token: Type.String({ pattern: '^[0-9a-f]{32}$', description: `the ${PICKUP_TOKEN_HEADER} header of the answer` }) }),
        response: { 200: Type.Object({ confirmed: Type.Boolean({ description: 'false: this node no longer knows the answer; its bundles go again with the next pickup' }) }), 401: Refusal, 413: Refusal, 503: Refusal },
      },
    },
    async (req, reply) => {
      const v = verified(req, pickupDonePath(req.params.token))
      if (!v.ok) return reply.code(401).send({ error: v.reason, statusCode: 401 })
      return reply.code(200).send({ confirmed: app.bundleInbox.confirmPickup(v.peer, req.params.token) })
    },
  )
}

export default bundles
