// Where mail goes next, and what a gateway takes from the Internet. Every
// step that routes asks these functions: Haraka's plugins (at RCPT and when
// the message is queued), the bundle import, and the email-account uplink.
// Pure: the peer lookups come in as functions.
//
// On a gateway the Internet is the default route: mail for a domain that
// no explicit route and no peer's card names goes out by MX (or the
// smarthost). A `*` route is not used there; the gateway is where the
// group's default route ends.

import { normaliseAddress } from '../accounts/address.js'
import { OutpostError } from '../base/errors.js'

/** The outbox's name for "the Internet": not a node name (those never start with @), so no peer can take it. */
export const INTERNET = '@internet'

export type NextHop =
  | { kind: 'local' }
  | { kind: 'peer'; peer: string }
  | { kind: 'internet' }
  | { kind: 'none'; reason: string }

export interface HopContext {
  /** The domains this node serves. */
  domains: readonly string[]
  /** Whether this node is a gateway ([gateway] enabled). */
  gateway: boolean
  /** PeerService.resolveDomain. */
  resolve(domain: string, opts: { useDefault?: boolean }): { peer: string; via: string } | undefined
}

export function nextHop(domain: string, ctx: HopContext): NextHop {
  const d = domain.trim().toLowerCase()
  if (!d) return { kind: 'none', reason: 'the address has no domain' }
  if (ctx.domains.includes(d)) return { kind: 'local' }
  const named = ctx.resolve(d, { useDefault: !ctx.gateway })
  if (named) return { kind: 'peer', peer: named.peer }
  if (ctx.gateway) return { kind: 'internet' }
  return { kind: 'none', reason: `relaying to ${d} is not possible from this node` }
}

/** The domain of an address, lower-cased; empty when it has none. */
export function domainOf(address: string): string {
  const a = normaliseAddress(address)
  const at = a.lastIndexOf('@')
  return at === -1 ? '' : a.slice(at + 1)
}

/** Recipients grouped by their next hop. */
export interface HopGroups {
  local: string[]
  /** By peer name, or INTERNET, in the order the recipients came. */
  byPeer: Map<string, string[]>
  /** Recipients nothing routes, each with the reason. */
  none: { recipient: string; reason: string }[]
}

/** Groups recipients by nextHop of their domain; `domain` says how a recipient's domain is read. */
export function groupByHop(recipients: readonly string[], ctx: HopContext, domain: (recipient: string) => string = domainOf): HopGroups {
  const out: HopGroups = { local: [], byPeer: new Map(), none: [] }
  for (const r of recipients) {
    const hop = nextHop(domain(r), ctx)
    if (hop.kind === 'local') out.local.push(r)
    else if (hop.kind === 'none') out.none.push({ recipient: r, reason: hop.reason })
    else {
      const to = hop.kind === 'peer' ? hop.peer : INTERNET
      out.byPeer.set(to, [...(out.byPeer.get(to) ?? []), r])
    }
  }
  return out
}

export interface InboundContext {
  domains: readonly string[]
  /** [gateway] inbound_domains; empty means "ours and every domain a peer is named for". */
  inboundDomains: readonly string[]
  resolve(domain: string, opts: { useDefault?: boolean }): { peer: string; via: string } | undefined
}

/**
 * Whether the gateway takes mail for `domain` from an unauthenticated
 * Internet client. Never by the default route and never "the Internet":
 * that would make the gateway an open relay.
 */
export function inboundAccepts(domain: string, ctx: InboundContext): boolean {
  const d = domain.trim().toLowerCase()
  if (!d) return false
  if (ctx.domains.includes(d)) return true
  if (ctx.inboundDomains.length && !ctx.inboundDomains.includes(d)) return false
  return ctx.resolve(d, { useDefault: false }) !== undefined
}

/**
 * The reverse-path check for mail a peer hands the gateway for the
 * Internet: the sender's domain must route back to that same peer (by its
 * card or an explicit route). A node can then send to the world only in
 * the names of the domains it is trusted for, and never as the gateway's
 * own users or as another peer's.
 */
export function senderRoutesTo(senderDomain: string, origin: string, ctx: Pick<InboundContext, 'domains' | 'resolve'>): boolean {
  const d = senderDomain.trim().toLowerCase()
  if (!d || ctx.domains.includes(d)) return false
  return ctx.resolve(d, { useDefault: false })?.peer === origin
}

export interface MxTarget {
  host: string
  port: number
}

export class StaticMxError extends OutpostError {
  override name = 'StaticMxError'
}

/** [gateway] static_mx: `DOMAIN=HOST:PORT, …` (`*` for every domain), checked. */
export function parseStaticMx(text: string): Map<string, MxTarget> {
  const out = new Map<string, MxTarget>()
  for (const entry of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^([a-z0-9.*-]+)=(\[[0-9a-f:.]+\]|[a-z0-9.-]+):([0-9]{1,5})$/i.exec(entry)
    const port = m ? Number(m[3]) : 0
    if (!m || port < 1 || port > 65535) throw new StaticMxError(`static_mx entry "${entry}" is not DOMAIN=HOST:PORT (for example elsewhere.test=127.0.0.1:2525)`)
    out.set(m[1]!.toLowerCase(), { host: m[2]!.replace(/^\[|\]$/g, ''), port })
  }
  return out
}

/** The static MX for a domain: the domain itself, then `*`. */
export function staticMxFor(table: Map<string, MxTarget>, domain: string): MxTarget | undefined {
  return table.get(domain.toLowerCase()) ?? table.get('*')
}
