// Signed requests between nodes: how a node proves, on each POST of a
// bundle, that it holds the Ed25519 key its peer knows from its card. No
// shared password: the keys are already exchanged with the cards, and a
// password typed into two boxes is one more secret to leak or forget.
//
// The sender puts three headers on the request:
//
//   X-Outpost-Node:      its node name (as on its card)
//   X-Outpost-Date:      milliseconds since 1970, as a decimal integer
//   X-Outpost-Signature: base64url(Ed25519 over the signing string)
//
// and the signing string is, with "\n" between the lines and none at the end:
//
//   POST
//   /api/peer/bundles
//   <the date header, exactly as sent>
//   <sha256 of the body, lower-case hex>
//
// The receiver refuses an unknown node, a bad signature, a date more than
// REPLAY_WINDOW_MS away from its own clock, and a signature it has seen
// before within that window (a recorded request sent again). Everything
// here is pure: the keys and the clock come from the caller.
import { createHash, sign, verify, type KeyObject } from 'node:crypto'
import { isNodeName } from '../identity/name.js'

export const BUNDLES_PATH = '/api/peer/bundles'
/** Where a peer that cannot be reached fetches the bundles waiting for it (signed like a POST of an empty body). */
export const PICKUP_PATH = '/api/peer/pickup'
/** The header of a pickup answer that names it; the peer confirms the answer by it once read. */
export const PICKUP_TOKEN_HEADER = 'x-outpost-pickup'
/** Where a peer confirms that it read the pickup answer `token` (signed like a POST of an empty body). */
export function pickupDonePath(token: string): string {
  return `${PICKUP_PATH}/done/${token}`
}
/** How far a request's date may be from the receiver's clock; boxes off the Internet have no NTP, so this is wide. */
export const REPLAY_WINDOW_MS = 10 * 60 * 1000

export const NODE_HEADER = 'x-outpost-node'
export const DATE_HEADER = 'x-outpost-date'
export const SIGNATURE_HEADER = 'x-outpost-signature'

const DATE = /^[0-9]{1,15}$/
// An Ed25519 signature is 64 bytes: 86 base64url characters without padding.
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/

export function bodyDigest(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex')
}

export function signingString(method: string, path: string, date: string, bodySha256Hex: string): string {
  return `${method}\n${path}\n${date}\n${bodySha256Hex}`
}

/** The three headers for one POST of `body` by node `node`. */
export function signRequest(opts: { node: string; key: KeyObject; body: Buffer; now?: number; path?: string }): Record<string, string> {
  const date = String(opts.now ?? Date.now())
  const sig = sign(null, Buffer.from(signingString('POST', opts.path ?? BUNDLES_PATH, date, bodyDigest(opts.body))), opts.key)
  return { [NODE_HEADER]: opts.node, [DATE_HEADER]: date, [SIGNATURE_HEADER]: sig.toString('base64url') }
}

export type AuthRefusal = { ok: false; status: 401; reason: string }
/** Headers that passed every check that needs no body. */
export type AuthHeaders = { ok: true; peer: string; date: string; signature: string; key: KeyObject }

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? undefined : v
}

function refuse(reason: string): AuthRefusal {
  return { ok: false, status: 401, reason }
}

/**
 * The checks that need no body: run before a large body is read, so a
 * stranger cannot make the node read 64 MiB first. `keyFor` gives a known
 * peer's signing key, or undefined.
 */
export function checkHeaders(headers: Record<string, string | string[] | undefined>, keyFor: (peer: string) => KeyObject | undefined, now = Date.now()): AuthHeaders | AuthRefusal {
  const peer = header(headers, NODE_HEADER)
  const date = header(headers, DATE_HEADER)
  const signature = header(headers, SIGNATURE_HEADER)
  if (!peer || !date || !signature) return refuse(`a signed request needs the headers X-Outpost-Node, X-Outpost-Date and X-Outpost-Signature (once each)`)
  if (!isNodeName(peer)) return refuse(`"${String(peer).slice(0, 64)}" is not a node name`)
  const key = keyFor(peer)
  if (!key) return refuse(`node "${peer}" is not a peer of this node; add its card here with \`outpost peer add CARD\``)
  if (!DATE.test(date)) return refuse('X-Outpost-Date must be milliseconds since 1970')
  const skew = Number(date) - now
  if (Math.abs(skew) > REPLAY_WINDOW_MS) {
    return refuse(
      `the request's date (${new Date(Number(date)).toISOString()}) is ${Math.round(Math.abs(skew) / 1000)} s ${skew < 0 ? 'behind' : 'ahead of'} this node's clock (${new Date(now).toISOString()}; at most ${REPLAY_WINDOW_MS / 60_000} min allowed); set the clock of one of the two boxes, or carry one stick between them (a bundle moves the slower clock's floor forward)`,
    )
  }
  if (!SIGNATURE.test(signature)) return refuse('X-Outpost-Signature must be an Ed25519 signature in base64url')
  return { ok: true, peer, date, signature, key }
}

/**
 * Remembers the signatures of accepted requests until their date leaves
 * the window, after which the date check refuses them anyway. Ed25519 is
 * deterministic, so the same request always has the same signature.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>()
  private nextPrune = 0

  constructor(private readonly windowMs = REPLAY_WINDOW_MS) {}

  /** Records the signature; false if it was already there (a replay). */
  remember(signature: string, date: number, now = Date.now()): boolean {
    if (now >= this.nextPrune) {
      for (const [sig, until] of this.seen) if (until < now) this.seen.delete(sig)
      this.nextPrune = now + 60_000
    }
    if (this.seen.has(signature)) return false
    this.seen.set(signature, date + this.windowMs)
    return true
  }

  get size(): number {
    return this.seen.size
  }
}

/**
 * The check that needs the body: the signature over it, then the replay
 * check. It takes the body's sha256 (lower-case hex, bodyDigest) rather than
 * the body: a body is streamed to disk while it is hashed, so that nothing
 * of it is held in memory before its sender is known.
 */
export function verifyDigest(h: AuthHeaders, bodySha256Hex: string, replay: ReplayCache, now = Date.now(), path = BUNDLES_PATH): { ok: true; peer: string } | AuthRefusal {
  const ok = verify(null, Buffer.from(signingString('POST', path, h.date, bodySha256Hex)), h.key, Buffer.from(h.signature, 'base64url'))
  if (!ok) return refuse(`bad signature: the request was not signed with the key of node "${h.peer}" on this node's list of peers (or the body changed on the way). If that node was reinstalled, add its new card with \`outpost peer add CARD --replace\``)
  if (!replay.remember(h.signature, Number(h.date), now)) return refuse('this exact request was received before (a replay); a sender signs each request anew')
  return { ok: true, peer: h.peer }
}

