// Where a recipient's mail goes. Today a recipient is either an account on
// this node or nowhere; peer routes (other nodes reached over a carrier)
// will be added here, so every caller asks this one function.
import { normaliseAddress } from '../accounts/address.js'

export type Route = { kind: 'local' } | { kind: 'unroutable'; reason: string }

export interface RoutingContext {
  /** The mail domains this node serves. */
  domains: readonly string[]
  accountExists(address: string): boolean
}

export function domainOf(address: string): string {
  const a = normaliseAddress(address)
  const at = a.lastIndexOf('@')
  return at === -1 ? '' : a.slice(at + 1)
}

export function resolveRecipient(address: string, ctx: RoutingContext): Route {
  const a = normaliseAddress(address)
  const domain = domainOf(a)
  if (!domain) return { kind: 'unroutable', reason: `${address} has no domain` }
  if (!ctx.domains.includes(domain)) return { kind: 'unroutable', reason: `relaying to ${domain} is not possible from this node` }
  if (!ctx.accountExists(a)) return { kind: 'unroutable', reason: `${a}: no such user here` }
  return { kind: 'local' }
}
