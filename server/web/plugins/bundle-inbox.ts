// The node's side of the HTTP transport as a service: who may send bundles
// (a peer's key), one import at a time, the replay memory and the per-peer
// rate limit. Decorated onto the app so that the route stays thin and tests
// can hand in a fake exchange.
import fp from 'fastify-plugin'
import { randomBytes, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Exchange } from '../../exchange/exchange.js'
import type { ImportOutcome } from '../../exchange/import.js'
import { ReplayCache } from '../../transports/http-auth.js'
import { crashPoint } from '../../base/crash-point.js'
import { hopMark } from '../../base/hop-trace.js'
import { prepareUploadDir, UploadSlots } from '../../transports/http-upload.js'

/** What the route needs of the exchange. */
export interface BundleInboxOptions {
  /** A known peer's signing key, or undefined. */
  signerFor(peer: string): KeyObject | undefined
  importBundle(bytes: Buffer, name: string): Promise<ImportOutcome>
  /**
   * Seals what waits for a peer (mail, acks) and returns the bundles, for a
   * peer that cannot be reached and so picks its mail up (an off-grid node
   * behind NAT fetching from its gateway). Nothing counts as handed over
   * until `confirm` is called: the peer confirms once it has read the
   * answer. Without it, pickups are refused.
   */
  pickup?(peer: string): Promise<{ bundles: PickedUp[]; confirm(): void }>
  /** Requests each peer may make in a burst, and how many tokens come back per second. */
  rate?: { burst: number; perSecond: number }
  /** The node's clock, for the signing window; the wall clock when not given. */
  now?: () => number
  /**
   * Where bodies stream to before their signature is checked; emptied at
   * start. On the disk (the data dir), not in /tmp: /tmp is RAM on a Pi.
   */
  uploadDir?: string
  /** How many unverified bodies may stream in at once; the rest get 503. */
  maxUnverifiedUploads?: number
}

export interface PickedUp {
  name: string
  bytes: Buffer
}

/** A pickup answer: its bundles, and the token the peer confirms it by (none when nothing waits). */
export interface PickupAnswer {
  bundles: PickedUp[]
  token?: string
}

/** How many unconfirmed answers are kept per peer; an older one is dropped and its bundles go again. */
export const PENDING_PICKUPS_PER_PEER = 4
/** How long an answer waits for its confirmation; after that its bundles go again with the next pickup. */
export const PICKUP_CONFIRM_MS = 60 * 60 * 1000

export interface BundleInbox {
  /** The bundles waiting for `peer`, sealed; one pickup or import at a time. */
  pickupFor(peer: string): Promise<PickupAnswer>
  /**
   * The peer read the answer with this token: its bundles count as handed
   * over. False for a token this node did not give that peer, or gave so
   * long ago that it forgot it (the bundles then go again, and the peer
   * drops the copies it has).
   */
  confirmPickup(peer: string, token: string): boolean
  signerFor(peer: string): KeyObject | undefined
  /**
   * Imports one bundle a peer sent, from the file its verified body was
   * streamed to; imports run one after another, and the file is read only
   * when its turn comes, so bundles waiting in line cost disk, not memory.
   */
  importFile(peer: string, file: string): Promise<ImportOutcome>
  /** The upload folder (see BundleInboxOptions.uploadDir). */
  uploadDir: string
  /** Unverified bodies streaming in now, and the cap on them. */
  uploads: UploadSlots
  replay: ReplayCache
  /** Takes one token for this key; the seconds to wait when none is left. */
  take(key: string, now?: number): { ok: true } | { ok: false; retryAfterS: number }
  /** The time a request's date is checked against (the node's clock, never below its floor). */
  now(): number
}

declare module 'fastify' {
  interface FastifyInstance {
    bundleInbox: BundleInbox
  }
}

/** The inbox of a running node: its Exchange. */
export function exchangeInbox(exchange: Exchange, uploadDir: string): BundleInboxOptions {
  return {
    uploadDir,
    signerFor: (peer) => exchange.peers.signerFor(peer),
    importBundle: (bytes, name) => exchange.importBundle(bytes, name, { via: 'http' }),
    now: () => exchange.clock.now(),
    async pickup(peer) {
      const out: PickedUp[] = []
      // Counted as exported (and the acks as sent) only when the peer
      // confirms it read the answer: an answer lost with a dropped link
      // hands over nothing, and the next pickup carries the same mail and
      // acks again, not HTTP's retransmit timeout later
      // (outbox/resend-policy.ts). Copies a peer gets twice it drops by
      // message key.
      const r = await exchange.exportPeer(
        peer,
        async (name, bytes) => {
          out.push({ name, bytes })
        },
        { via: 'http', settle: 'on-confirm' },
      )
      return { bundles: out, confirm: () => r.confirm?.() }
    },
  }
}

// A backlog after days apart is sent as one POST per bundle of about
// 16 MiB of mail, back to back; 60 at once and one a second after that
// lets it through while bounding what a misbehaving peer can make us do.
const DEFAULT_RATE = { burst: 60, perSecond: 1 }
// A peer pushes its bundles one after another, and a node has a handful
// of peers: three bodies at once is room for honest traffic, while forty
// strangers with junk signatures cost three sockets and three temp files,
// not forty buffers of up to 64 MiB (which took a node to 2 GB).
export const DEFAULT_UNVERIFIED_UPLOADS = 3

export default fp<BundleInboxOptions>(
  async (app, opts) => {
    const rate = opts.rate ?? DEFAULT_RATE
    const uploadDir = opts.uploadDir ?? mkdtempSync(join(tmpdir(), 'outpost-uploads-'))
    prepareUploadDir(uploadDir)
    const buckets = new Map<string, { tokens: number; at: number }>()
    // Imports one at a time: two POSTs carrying the same message (a resend
    // that crossed a slow answer) must not both pass the "seen" check
    // before either records it, or the message would be delivered twice.
    let chain: Promise<unknown> = Promise.resolve()
    // Pickup answers sent and not yet confirmed, by token (in memory: after
    // a restart their bundles simply go again).
    const pending = new Map<string, { peer: string; confirm(): void; expires: number }>()
    const inbox: BundleInbox = {
      signerFor: opts.signerFor,
      importFile(peer, file) {
        // The name is only used if the bundle goes to quarantine.
        const name = `http-${peer}-${randomBytes(4).toString('hex')}.obundle`
        const run = chain.then(() => {
          hopMark('import.start')
          return opts.importBundle(readFileSync(file), name)
        })
        chain = run.catch(() => undefined)
        return run
      },
      pickupFor(peer) {
        const pick = opts.pickup
        if (!pick) return Promise.reject(new Error('this node does not hand out bundles for pickup'))
        const run = chain.then(async () => {
          const { bundles, confirm } = await pick(peer)
          crashPoint('pickup.answer-sealed')
          if (bundles.length === 0) return { bundles }
          const token = randomBytes(16).toString('hex')
          const now = inbox.now()
          // Forget answers never confirmed: their bundles are due again anyway.
          for (const [t, p] of pending) if (p.expires <= now) pending.delete(t)
          const mine = [...pending].filter(([, p]) => p.peer === peer)
          for (const [t] of mine.slice(0, Math.max(0, mine.length - PENDING_PICKUPS_PER_PEER + 1))) pending.delete(t)
          pending.set(token, { peer, confirm, expires: now + PICKUP_CONFIRM_MS })
          return { bundles, token }
        })
        chain = run.catch(() => undefined)
        return run
      },
      confirmPickup(peer, token) {
        const p = pending.get(token)
        if (!p || p.peer !== peer || p.expires <= inbox.now()) return false
        pending.delete(token)
        p.confirm()
        return true
      },
      uploadDir,
      uploads: new UploadSlots(opts.maxUnverifiedUploads ?? DEFAULT_UNVERIFIED_UPLOADS),
      replay: new ReplayCache(),
      now: opts.now ?? (() => Date.now()),
      take(key, now = Date.now()) {
        const b = buckets.get(key) ?? { tokens: rate.burst, at: now }
        b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) / 1000) * rate.perSecond)
        b.at = now
        buckets.set(key, b)
        if (b.tokens < 1) return { ok: false, retryAfterS: Math.ceil((1 - b.tokens) / rate.perSecond) }
        b.tokens -= 1
        return { ok: true }
      },
    }
    app.decorate('bundleInbox', inbox)
  },
  { name: 'bundle-inbox' },
)
