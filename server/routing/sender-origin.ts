// Whose mail a peer may hand us. A bundle's signature proves which node
// sealed it, not who wrote its messages; without this rule any peer could
// deliver mail "from" anyone, the receiving node's own users included.
//
// The rule: a message in a bundle from `origin` must come from a domain
// whose mail this node would send to `origin` (routing/route.ts nextHop
// asked backwards): the origin's own domains from its card, the domains
// routed to it, and, where the origin is this node's default route, every
// domain not routed elsewhere (the Internet behind a gateway). Never this
// node's own domains. The envelope sender and every address in From: are
// held to it; the null sender of a bounce is allowed in the envelope, and
// its From: is held to the same rule.
import { splitMessage } from '../bundle/message-id.js'
import { stripPhrases } from './author.js'

export interface OriginContext {
  /** This node's domains. */
  domains: readonly string[]
  /** Whether this node is a gateway (its default route is the Internet, not a peer). */
  gateway: boolean
  /** PeerService.resolveDomain. */
  resolve(domain: string, opts: { useDefault?: boolean }): { peer: string; via: string } | undefined
}

/** Whether mail from `domain` may arrive in a bundle sealed by `origin`. */
export function mayComeFrom(domain: string, origin: string, ctx: OriginContext): boolean {
  const d = domain.trim().toLowerCase()
  if (!d || ctx.domains.includes(d)) return false
  return ctx.resolve(d, { useDefault: !ctx.gateway })?.peer === origin
}

/** The domains of every address in every From: field of the header (a field name followed by spaces counts too). */
export function fromDomains(header: string): string[] {
  const unfolded = header.replace(/\r?\n[ \t]+/g, ' ')
  const out: string[] = []
  for (const m of unfolded.matchAll(/^from[ \t]*:(.*)$/gim)) {
    for (const part of stripPhrases(m[1]!).split(',')) {
      const angle = /<([^<>]*)>/.exec(part)
      const address = (angle ? angle[1]! : part).trim()
      const at = address.lastIndexOf('@')
      // An address without a domain names no one we could check: refused below as unknown.
      out.push(at === -1 ? '' : address.slice(at + 1).toLowerCase())
    }
  }
  return out
}

/** Why `origin` may not hand us this message, or null when it may. */
export function foreignSender(m: { sender: string; data: Buffer }, origin: string, ctx: OriginContext): string | null {
  const envelope = m.sender.includes('@') ? m.sender.slice(m.sender.lastIndexOf('@') + 1).toLowerCase() : ''
  if (m.sender && !mayComeFrom(envelope, origin, ctx)) return `${origin} may not send as <${m.sender}> (envelope sender): ${why(envelope, origin, ctx)}`
  for (const d of fromDomains(splitMessage(m.data).header)) {
    if (!mayComeFrom(d, origin, ctx)) return `${origin} may not send mail whose From: is at ${d || 'no domain'}: ${why(d, origin, ctx)}`
  }
  return null
}

function why(domain: string, origin: string, ctx: OriginContext): string {
  if (!domain) return 'the address has no domain'
  if (ctx.domains.includes(domain)) return `${domain} is this node's own domain`
  const route = ctx.resolve(domain, { useDefault: !ctx.gateway })
  return route ? `mail for ${domain} goes to ${route.peer}, not to ${origin}` : `${domain} is not routed to ${origin}`
}
