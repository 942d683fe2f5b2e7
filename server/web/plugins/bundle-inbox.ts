// The node's side of the HTTP transport as a service: who may send bundles
// (a peer's key), one import at a time, the replay memory and the per-peer
// rate limit. Decorated onto the app so that the route stays thin and tests
// can hand in a fake exchange.
import fp from 'fastify-plugin'
import { randomBytes, type KeyObject } from 'node:crypto'
import type { Exchange, ImportOutcome } from '../../exchange/exchange.js'
import { ReplayCache } from '../../transports/http-auth.js'

/** What the route needs of the exchange. */
export interface BundleInboxOptions {
  /** A known peer's signing key, or undefined. */
  signerFor(peer: string): KeyObject | undefined
  importBundle(bytes: Buffer, name: string): Promise<ImportOutcome>
  /**
   * Seals what waits for a peer (mail, acks) and returns the bundles, for a
   * peer that cannot be reached and so picks its mail up (an off-grid node
   * behind NAT fetching from its gateway). Without it, pickups are refused.
   */
  pickup?(peer: string): Promise<PickedUp[]>
  /** Requests each peer may make in a burst, and how many tokens come back per second. */
  rate?: { burst: number; perSecond: number }
  /** The node's clock, for the signing window; the wall clock when not given. */
  now?: () => number
}

export interface PickedUp {
  name: string
  bytes: Buffer
}

export interface BundleInbox {
  /** The bundles waiting for `peer`, sealed; one pickup or import at a time. */
  pickupFor(peer: string): Promise<PickedUp[]>
  signerFor(peer: string): KeyObject | undefined
  /** Imports one bundle a peer sent; imports run one after another. */
  importFrom(peer: string, bytes: Buffer): Promise<ImportOutcome>
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
export function exchangeInbox(exchange: Exchange): BundleInboxOptions {
  return {
    signerFor: (peer) => exchange.peers.signerFor(peer),
    importBundle: (bytes, name) => exchange.importBundle(bytes, name, { via: 'http' }),
    now: () => exchange.clock.now(),
    async pickup(peer) {
      const out: PickedUp[] = []
      // Counted as exported (and the acks as sent) once sealed into the
      // answer; if the answer is lost, the mail stays in the outbox until
      // acked and goes again with the next pickup, and lost acks make the
      // peer send its copy again, which is acked anew.
      await exchange.exportPeer(
        peer,
        async (name, bytes) => {
          out.push({ name, bytes })
        },
        { via: 'http' },
      )
      return out
    },
  }
}

// A backlog after days apart is sent as one POST per bundle of about
// 16 MiB of mail, back to back; 60 at once and one a second after that
// lets it through while bounding what a misbehaving peer can make us do.
const DEFAULT_RATE = { burst: 60, perSecond: 1 }

export default fp<BundleInboxOptions>(
  async (app, opts) => {
    const rate = opts.rate ?? DEFAULT_RATE
    const buckets = new Map<string, { tokens: number; at: number }>()
    // Imports one at a time: two POSTs carrying the same message (a resend
    // that crossed a slow answer) must not both pass the "seen" check
    // before either records it, or the message would be delivered twice.
    let chain: Promise<unknown> = Promise.resolve()
    const inbox: BundleInbox = {
      signerFor: opts.signerFor,
      importFrom(peer, bytes) {
        // The name is only used if the bundle goes to quarantine.
        const name = `http-${peer}-${randomBytes(4).toString('hex')}.obundle`
        const run = chain.then(() => opts.importBundle(bytes, name))
        chain = run.catch(() => undefined)
        return run
      },
      pickupFor(peer) {
        const pick = opts.pickup
        if (!pick) return Promise.reject(new Error('this node does not hand out bundles for pickup'))
        const run = chain.then(() => pick(peer))
        chain = run.catch(() => undefined)
        return run
      },
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
