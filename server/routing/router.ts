// Where a recipient's mail goes: an account on this node, another node (a
// peer, reached over a carrier), or nowhere. Every caller asks this one
// function. It stays pure: what it needs to know comes in the context.
import { normaliseAddress } from '../accounts/address.js'

export type LocalRoute = { kind: 'local' }
export type PeerRoute = { kind: 'peer'; peer: string }
export type UnroutableRoute = { kind: 'unroutable'; reason: string }
export type Route = LocalRoute | PeerRoute | UnroutableRoute

export interface RoutingContext {
  /** The mail domains this node serves. */
  domains: readonly string[]
  accountExists(address: string): boolean
  /**
   * The peer that mail for a foreign domain goes to (PeerService.resolveDomain).
   * Without it, foreign domains are unroutable: that is how a caller with no
   * outbox to put peer mail in (Haraka's policy plugin, for now) asks.
   */
  peerFor?(domain: string): string | undefined
}

export function domainOf(address: string): string {
  const a = normaliseAddress(address)
  const at = a.lastIndexOf('@')
  return at === -1 ? '' : a.slice(at + 1)
}

// A context without peerFor can never yield a peer route; the overload lets
// such callers keep handling local and unroutable only.
export function resolveRecipient(address: string, ctx: RoutingContext & { peerFor?: undefined }): LocalRoute | UnroutableRoute
export function resolveRecipient(address: string, ctx: RoutingContext): Route
export function resolveRecipient(address: string, ctx: RoutingContext): Route {
  const a = normaliseAddress(address)
  const domain = domainOf(a)
  if (!domain) return { kind: 'unroutable', reason: `${address} has no domain` }
  if (!ctx.domains.includes(domain)) {
    const peer = ctx.peerFor?.(domain)
    if (peer) return { kind: 'peer', peer }
    return { kind: 'unroutable', reason: `relaying to ${domain} is not possible from this node` }
  }
  if (!ctx.accountExists(a)) return { kind: 'unroutable', reason: `${a}: no such user here` }
  return { kind: 'local' }
}
