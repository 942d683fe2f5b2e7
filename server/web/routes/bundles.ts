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
import { checkHeaders, verifyBody, BUNDLES_PATH, PICKUP_PATH, type AuthHeaders } from '../../transports/http-auth.js'
import { frameBundles, PICKUP_CONTENT_TYPE } from '../../transports/pickup.js'

/**
 * The largest bundle accepted over HTTP. Export cuts bundles at about
 * 16 MiB of mail (compressed, usually much less); a single message may be
 * up to limits.max_message_bytes (30 MiB by default), so 64 MiB leaves room
 * for one large message plus its envelope.
 */
export const MAX_HTTP_BUNDLE_BYTES = 64 * 1024 * 1024
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

const bundles: FastifyPluginAsyncTypebox = async (app) => {
  // Scoped to this plugin: only the peer routes take raw bytes, and only
  // they may send this much.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_HTTP_BUNDLE_BYTES }, (_req, body, done) => done(null, body))

  const checked = new WeakMap<FastifyRequest, AuthHeaders>()

  // Before the body is read: a stranger, a stale date or a peer over its
  // rate is turned away without the node reading up to 64 MiB first.
  app.addHook('onRequest', async (req, reply) => {
    const h = checkHeaders(req.headers, (peer) => app.bundleInbox.signerFor(peer), app.bundleInbox.now())
    if (!h.ok) return reply.code(401).send({ error: h.reason, statusCode: 401 })
    // Per peer and address: a stranger who knows a peer's name cannot use
    // up that peer's allowance from elsewhere.
    const t = app.bundleInbox.take(`${h.peer}@${req.ip}`)
    if (!t.ok) return reply.code(429).header('retry-after', String(t.retryAfterS)).send({ error: `too many requests from node "${h.peer}"; try again in ${t.retryAfterS} s`, statusCode: 429 })
    checked.set(req, h)
  })

  app.post(
    '/bundles',
    {
      bodyLimit: MAX_HTTP_BUNDLE_BYTES,
      schema: {
        headers: Headers,
        response: { 200: Outcome, 401: Refusal, 415: Refusal, 422: Outcome, 429: Refusal, 503: Outcome },
      },
    },
    async (req, reply) => {
      const h = checked.get(req)
      if (!h) return reply.code(401).send({ error: 'request not checked', statusCode: 401 })
      if (!Buffer.isBuffer(req.body)) return reply.code(415).send({ error: 'the body must be the bundle, sent as application/octet-stream', statusCode: 415 })
      const v = verifyBody(h, req.body, app.bundleInbox.replay, app.bundleInbox.now(), BUNDLES_PATH)
      if (!v.ok) return reply.code(401).send({ error: v.reason, statusCode: 401 })

      const o = await app.bundleInbox.importFrom(v.peer, req.body)
      switch (o.kind) {
        case 'imported':
          return reply.code(200).send({ outcome: 'imported', bundle: o.header.id, delivered: o.delivered, forwarded: o.forwarded, duplicates: o.duplicates, quarantined: o.quarantined, acked: o.acked })
        case 'duplicate':
          // Already ours: the sender may forget it.
          return reply.code(200).send({ outcome: 'duplicate', bundle: o.header.id })
        case 'deferred':
          return reply.code(503).header('retry-after', String(RETRY_AFTER_S)).send({ outcome: 'deferred', bundle: o.header.id, reason: o.reason })
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
  // Taking them changes nothing that matters: mail leaves the outbox only
  // when the peer acks it.
  app.post(
    '/pickup',
    { schema: { headers: Headers, response: { 200: Type.Unknown({ description: 'the waiting bundles, framed as in server/transports/pickup.ts' }), 401: Refusal, 404: Refusal } } },
    async (req, reply) => {
      const h = checked.get(req)
      if (!h) return reply.code(401).send({ error: 'request not checked', statusCode: 401 })
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
      const v = verifyBody(h, body, app.bundleInbox.replay, app.bundleInbox.now(), PICKUP_PATH)
      if (!v.ok) return reply.code(401).send({ error: v.reason, statusCode: 401 })
      let picked
      try {
        picked = await app.bundleInbox.pickupFor(v.peer)
      } catch (err) {
        return reply.code(404).send({ error: (err as Error).message, statusCode: 404 })
      }
      return reply.code(200).header('content-type', PICKUP_CONTENT_TYPE).send(frameBundles(picked))
    },
  )
}

export default bundles
