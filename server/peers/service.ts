// Peers and routes: which other nodes this node trusts, and which of them
// mail for a domain goes to. Shared by the CLI and the web admin; the
// router asks resolveDomain, a bundle opener asks signerFor.
//
// A peer's signing key is the whole of its trust: a bundle is accepted only
// if that key signed it. So the rules below are about keys: one key is one
// peer, and a known peer's key changes only when a person says so.
import { asc, eq } from 'drizzle-orm'
import type { KeyObject } from 'node:crypto'
import type { Db } from '../db/index.js'
import { peers, routes } from '../db/schema.js'
import { DOMAIN, signFingerprint, type Card, type Reach } from '../identity/card.js'
import { signPublicFromB64 } from '../identity/keys.js'
import { isNodeName } from '../identity/name.js'
import { OutpostError } from '../base/errors.js'

export class PeerError extends OutpostError {
  override name = 'PeerError'
}

/**
 * A classic peer: an MTA (Exim, Postfix) with NNCP or Filespooler, set up
 * the usual way. It has no Outpost keys and reads no bundles: its mail
 * travels as plain batch SMTP, and the carrier (NNCP) is what authenticates
 * it. It is stored as a peer row like any other, so routes, the sender rule
 * and the ledger treat it alike; its signing-key column holds a marker that
 * no Ed25519 key can equal, so no bundle ever verifies as coming from it.
 */
export interface ClassicPeerInfo {
  /** The NNCP node id (base32) its batches come from, as NNCP_SENDER gives it; undefined for a peer reached only by Filespooler. */
  nncpNode?: string
}

/** The signing-key column's marker for a classic peer: not base64url, so never a key. */
const CLASSIC_MARK = 'classic:'
/** The reach kind that carries a classic peer's NNCP node id. */
export const CLASSIC_REACH = 'nncp-classic'

/** NNCP node ids are 52 base32 letters (a 256-bit hash). */
export const NNCP_NODE_ID = /^[A-Z2-7]{52}$/

export interface Peer {
  name: string
  /** Ed25519 public key, raw 32 bytes as base64url. */
  sign: string
  /** age1… */
  age: string
  domains: string[]
  reach: Reach[]
  addedAt: number
  /** Set for a classic peer (batch SMTP over NNCP or Filespooler), which has no keys. */
  classic?: ClassicPeerInfo
}

export type AddResult = { status: 'added' | 'unchanged' | 'updated' | 'replaced'; peer: Peer }

export interface RouteEntry {
  /** A domain, or `*` for the default route. */
  domain: string
  peer: string
  /** true when it comes from the peer's card, not from `route add`. */
  implied: boolean
  /** false for a card domain that an explicit route sends elsewhere. */
  active: boolean
  /** When the explicit route was added, or the peer for an implied one. */
  createdAt: number
}

export interface DomainRoute {
  peer: string
  via: 'route' | 'card' | 'default'
}

/** What the service needs to know about this node itself. */
export interface SelfInfo {
  domains: readonly string[]
  /** This node's own signing key (base64url raw), so its own card is never added as a peer. */
  signPublicB64: string
}

export const DEFAULT_ROUTE = '*'

type PeerRow = typeof peers.$inferSelect

function toPeer(r: PeerRow): Peer {
  const reach = JSON.parse(r.reach) as Reach[]
  const peer: Peer = { name: r.name, sign: r.signKey, age: r.ageRecipient, domains: JSON.parse(r.domains) as string[], reach, addedAt: r.addedAt }
  if (r.signKey.startsWith(CLASSIC_MARK)) peer.classic = { nncpNode: reach.find((x) => x.kind === CLASSIC_REACH)?.address }
  return peer
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

export class PeerService {
  private readonly self: SelfInfo

  constructor(
    private readonly db: Db,
    self: SelfInfo,
  ) {
    this.self = { domains: self.domains.map((d) => d.toLowerCase()), signPublicB64: self.signPublicB64 }
  }

  private isOwnDomain(domain: string): boolean {
    return this.self.domains.includes(domain)
  }

  /**
   * Adds a peer from its card. Re-adding the same card does nothing; a card
   * with the same signing key but new domains, reach or age key updates the
   * peer (the holder of a key we trust may change those). A card that
   * brings a different signing key for a known name is refused unless
   * `replace` is given: it could be an impostor as well as a reinstalled box.
   */
  add(card: Card, opts: { replace?: boolean } = {}): AddResult {
    if (card.sign === this.self.signPublicB64) throw new PeerError(`this is this node's own card ("${card.name}"); add the card of the other node (\`outpost card --text\` there)`)
    const own = card.domains.filter((d) => this.isOwnDomain(d))
    if (own.length) throw new PeerError(`card "${card.name}" claims ${own.join(', ')}, which this node serves itself; a peer cannot take over our own domain`)
    return this.db.transaction((tx) => {
      const all = tx.select().from(peers).all().map(toPeer)
      const existing = all.find((p) => p.name === card.name)
      const keyHolder = all.find((p) => p.sign === card.sign)
      if (keyHolder && keyHolder.name !== card.name) {
        throw new PeerError(`card "${card.name}" has the signing key of peer "${keyHolder.name}" (${signFingerprint(card.sign)}): the node was renamed? Remove the old one first with \`outpost peer remove ${keyHolder.name}\``)
      }
      for (const other of all) {
        if (other.name === card.name) continue
        const taken = card.domains.filter((d) => other.domains.includes(d))
        if (taken.length) {
          throw new PeerError(`card "${card.name}" claims ${taken.join(', ')}, which peer "${other.name}" already serves; remove that peer first (\`outpost peer remove ${other.name}\`) or send the domain by an explicit route (\`outpost route add DOMAIN PEER\`)`)
        }
      }
      const values = { signKey: card.sign, ageRecipient: card.age, domains: JSON.stringify(card.domains), reach: JSON.stringify(card.reach) }
      if (!existing) {
        tx.insert(peers).values({ name: card.name, ...values, addedAt: Date.now() }).run()
        return { status: 'added' as const, peer: toPeer(tx.select().from(peers).where(eq(peers.name, card.name)).get()!) }
      }
      if (existing.sign === card.sign && existing.age === card.age && sameList(existing.domains, card.domains) && sameList(existing.reach, card.reach)) {
        return { status: 'unchanged' as const, peer: existing }
      }
      const keyChanged = existing.sign !== card.sign
      if (keyChanged && !opts.replace) {
        throw new PeerError(
          `peer "${card.name}" is already known with another signing key (known ${signFingerprint(existing.sign)}, this card ${signFingerprint(card.sign)}). ` +
            'If that node was reinstalled, check the new fingerprint with its owner, then add the card again with --replace',
        )
      }
      // Updated in place: the peer keeps its name, so its routes stay.
      tx.update(peers).set(values).where(eq(peers.name, card.name)).run()
      return { status: keyChanged ? ('replaced' as const) : ('updated' as const), peer: toPeer(tx.select().from(peers).where(eq(peers.name, card.name)).get()!) }
    })
  }

  /**
   * Adds or updates a classic peer: its name, the NNCP node its batches come
   * from, and the domains it is the route for (its mail may come only from
   * those, and ours for them goes there). A name or NNCP node that belongs
   * to an Outpost peer, or a domain another peer serves, is refused.
   */
  addClassic(name: string, opts: { nncpNode?: string; domains: string[] }): AddResult {
    if (!isNodeName(name)) throw new PeerError(`"${name}" is not a peer name: lower-case letters and digits, parts joined by . or - (at most 63)`)
    const nncpNode = opts.nncpNode?.trim()
    if (nncpNode !== undefined && !NNCP_NODE_ID.test(nncpNode)) {
      throw new PeerError(`"${nncpNode}" is not an NNCP node id: it is the 52-letter id (A-Z, 2-7) from the "id" line of that node's NNCP config, or \`nncp-cfgdir\`/\`nncp-stat\` output`)
    }
    const domains = [...new Set(opts.domains.map((d) => d.trim().toLowerCase()))].sort()
    if (!domains.length) throw new PeerError(`classic peer "${name}" needs at least one --domain: the domains whose mail it carries`)
    for (const d of domains) {
      if (!DOMAIN.test(d)) throw new PeerError(`"${d}" is not a domain name`)
      if (this.isOwnDomain(d)) throw new PeerError(`${d} is this node's own domain; a peer cannot take it over`)
    }
    return this.db.transaction((tx) => {
      const all = tx.select().from(peers).all().map(toPeer)
      const existing = all.find((p) => p.name === name)
      if (existing && !existing.classic) throw new PeerError(`"${name}" is an Outpost peer (with keys from its card); remove it first, or choose another name`)
      for (const other of all) {
        if (other.name === name) continue
        const taken = domains.filter((d) => other.domains.includes(d))
        if (taken.length) throw new PeerError(`${taken.join(', ')} already goes to peer "${other.name}"; remove that peer first (\`outpost peer remove ${other.name}\`)`)
        if (nncpNode && other.classic?.nncpNode === nncpNode) throw new PeerError(`NNCP node ${nncpNode} is already classic peer "${other.name}"`)
      }
      const values = {
        // Unique like a key, and never one: no bundle can be signed by it.
        signKey: `${CLASSIC_MARK}${name}`,
        ageRecipient: '',
        domains: JSON.stringify(domains),
        reach: JSON.stringify(nncpNode ? [{ kind: CLASSIC_REACH, address: nncpNode }] : []),
      }
      if (!existing) {
        tx.insert(peers).values({ name, ...values, addedAt: Date.now() }).run()
        return { status: 'added' as const, peer: toPeer(tx.select().from(peers).where(eq(peers.name, name)).get()!) }
      }
      if (sameList(existing.domains, domains) && existing.classic?.nncpNode === nncpNode) return { status: 'unchanged' as const, peer: existing }
      tx.update(peers).set(values).where(eq(peers.name, name)).run()
      return { status: 'updated' as const, peer: toPeer(tx.select().from(peers).where(eq(peers.name, name)).get()!) }
    })
  }

  /** The classic peer whose batches come from this NNCP node (NNCP_SENDER), if any. */
  classicByNncpNode(nodeId: string): Peer | undefined {
    return this.list().find((p) => p.classic?.nncpNode !== undefined && p.classic.nncpNode === nodeId)
  }

  list(): Peer[] {
    return this.db.select().from(peers).orderBy(asc(peers.name)).all().map(toPeer)
  }

  get(name: string): Peer | undefined {
    const r = this.db.select().from(peers).where(eq(peers.name, name)).get()
    return r ? toPeer(r) : undefined
  }

  /** Like get, but a missing peer is an error that says what is known. */
  byName(name: string): Peer {
    const p = this.get(name)
    if (!p) throw new PeerError(`no peer named "${name}"; ${this.knownPeers()}`)
    return p
  }

  private knownPeers(): string {
    const names = this.list().map((p) => p.name)
    return names.length ? `known peers: ${names.join(', ')}` : 'there are no peers yet (add one with `outpost peer add CARD`)'
  }

  /** Removes a peer and its explicit routes; returns the domains of the routes that went with it. */
  remove(name: string): { routes: string[] } {
    return this.db.transaction((tx) => {
      if (!tx.select({ id: peers.id }).from(peers).where(eq(peers.name, name)).get()) throw new PeerError(`no peer named "${name}"; ${this.knownPeers()}`)
      const gone = tx.select({ domain: routes.domain }).from(routes).where(eq(routes.peer, name)).orderBy(asc(routes.domain)).all().map((r) => r.domain)
      // The foreign key cascades too; deleting here as well keeps the
      // behaviour if a connection ever runs without foreign_keys = ON.
      tx.delete(routes).where(eq(routes.peer, name)).run()
      tx.delete(peers).where(eq(peers.name, name)).run()
      return { routes: gone }
    })
  }

  /** The key a bundle from this peer must be signed with; undefined for an unknown peer. */
  signerFor(name: string): KeyObject | undefined {
    const p = this.get(name)
    // A classic peer signs nothing: a bundle claiming to be from it is from no one we know.
    return p && !p.classic ? signPublicFromB64(p.sign) : undefined
  }

  private checkRouteDomain(domain: string): string {
    const d = domain.trim().toLowerCase()
    if (d === DEFAULT_ROUTE) return d
    if (!DOMAIN.test(d)) throw new PeerError(`"${domain}" is not a domain name (or * for the default route)`)
    if (this.isOwnDomain(d)) throw new PeerError(`${d} is this node's own domain: its mail is delivered here and never routed to a peer`)
    return d
  }

  /** Sends mail for `domain` (or `*`: anything not otherwise routed) to a peer; returns the peer it went to before, if any. */
  addRoute(domain: string, peerName: string): { domain: string; previous?: string } {
    const d = this.checkRouteDomain(domain)
    return this.db.transaction((tx) => {
      if (!tx.select({ id: peers.id }).from(peers).where(eq(peers.name, peerName)).get()) throw new PeerError(`no peer named "${peerName}"; ${this.knownPeers()}`)
      const before = tx.select().from(routes).where(eq(routes.domain, d)).get()
      if (before) tx.update(routes).set({ peer: peerName, createdAt: Date.now() }).where(eq(routes.domain, d)).run()
      else tx.insert(routes).values({ domain: d, peer: peerName, createdAt: Date.now() }).run()
      return before && before.peer !== peerName ? { domain: d, previous: before.peer } : { domain: d }
    })
  }

  removeRoute(domain: string): { domain: string; peer: string } {
    const d = domain.trim().toLowerCase()
    const r = this.db.select().from(routes).where(eq(routes.domain, d)).get()
    if (!r) {
      const implied = this.list().find((p) => p.domains.includes(d))
      if (implied) throw new PeerError(`${d} has no explicit route; it goes to peer "${implied.name}" because that peer's card claims it. Remove the peer to stop that, or route it elsewhere with \`outpost route add ${d} PEER\``)
      throw new PeerError(`there is no route for ${d} (\`outpost route list\` shows the routes)`)
    }
    this.db.delete(routes).where(eq(routes.domain, d)).run()
    return { domain: d, peer: r.peer }
  }

  /** Explicit routes and the ones implied by peers' cards, by domain (`*` last). */
  listRoutes(): RouteEntry[] {
    const explicit = this.db.select().from(routes).all()
    const explicitDomains = new Set(explicit.map((r) => r.domain))
    const out: RouteEntry[] = explicit.map((r) => ({ domain: r.domain, peer: r.peer, implied: false, active: true, createdAt: r.createdAt }))
    for (const p of this.list()) {
      for (const d of p.domains) out.push({ domain: d, peer: p.name, implied: true, active: !explicitDomains.has(d), createdAt: p.addedAt })
    }
    const key = (e: RouteEntry) => (e.domain === DEFAULT_ROUTE ? '\uffff' : e.domain)
    return out.sort((a, b) => key(a).localeCompare(key(b)) || Number(a.implied) - Number(b.implied))
  }

  /**
   * Which peer mail for `domain` goes to: an explicit route first (a person
   * chose it), then a peer whose card claims the domain, then the default
   * route (unless `useDefault` is false). Our own domains are never routed away.
   */
  resolveDomain(domain: string, opts: { useDefault?: boolean } = {}): DomainRoute | undefined {
    const d = domain.trim().toLowerCase()
    if (!d || this.isOwnDomain(d)) return undefined
    if (d !== DEFAULT_ROUTE) {
      const r = this.db.select({ peer: routes.peer }).from(routes).where(eq(routes.domain, d)).get()
      if (r) return { peer: r.peer, via: 'route' }
      const byCard = this.list().find((p) => p.domains.includes(d))
      if (byCard) return { peer: byCard.name, via: 'card' }
    }
    // A gateway asks without the default route: what no peer names goes to the Internet.
    if (opts.useDefault === false) return undefined
    const def = this.db.select({ peer: routes.peer }).from(routes).where(eq(routes.domain, DEFAULT_ROUTE)).get()
    return def ? { peer: def.peer, via: 'default' } : undefined
  }
}
