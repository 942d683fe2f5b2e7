// Who may send what. Only logged-in accounts send, only as themselves (in
// the envelope and in From:), at a bounded rate, to recipients the router
// knows. Everything is refused at the command it concerns, with a reply a
// person can act on, so a refused message never reaches the queue.
//
// The one exception is a gateway's inbound port, where the Internet
// delivers without AUTH: any sender but the group's own (in the envelope and
// in From:), at a bounded rate per client address, and only to the group's
// domains (routing/route.ts inboundAccepts), so the gateway is never an
// open relay.
//
// For every client, a header must parse line by line, and a message without
// a Message-ID gets one.
import constants from 'haraka-constants'
import { randomUUID } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import { accounts } from '../../db/schema.js'
import { normaliseAddress } from '../../accounts/address.js'
import { domainOf, inboundAccepts, nextHop } from '../../routing/route.js'
import { reachesInternet } from '../../routing/internet.js'
import type { Connection, HarakaAddress, HarakaPlugin, Next } from '../lib/haraka-api.js'
import { authorOf } from '../../routing/author.js'
import { authUser, isInbound as isInboundClient } from '../lib/inbound.js'
import { fromDomains } from '../../routing/sender-origin.js'
import { firstBadHeaderLine } from '../lib/header-lines.js'
import { guardHook } from '../lib/guard.js'
import { nodeDb, routingPeers } from '../lib/node-db.js'
import { attachToSupervisor } from '../lib/lifecycle.js'
import { watchSettings } from '../lib/plugin-settings.js'
import { RateLimiter } from '../lib/ratelimit.js'
import { smtpReply } from '../lib/reply.js'
import type { OutpostSettings } from '../lib/settings.js'
import { preparedPerDb } from '../../db/prepared.js'

let settings: () => OutpostSettings
let limiter: RateLimiter | undefined
let inboundLimiter: RateLimiter | undefined

export function register(this: HarakaPlugin): void {
  settings = watchSettings(this, (s) => {
    const limits = { perMinute: s.sendPerMinute, burst: s.sendBurst }
    if (limiter) limiter.setLimits(limits)
    else limiter = new RateLimiter(limits)
    const inbound = { perMinute: s.gateway.inboundPerMinute, burst: s.gateway.inboundBurst }
    if (inboundLimiter) inboundLimiter.setLimits(inbound)
    else inboundLimiter = new RateLimiter(inbound)
  })
  attachToSupervisor(settings().pidFile)
  this.register_hook('mail', 'check_sender')
  this.register_hook('rcpt', 'check_recipient')
  this.register_hook('data', 'mark_header_start')
  this.register_hook('data_post', 'check_author')
}

/** Haraka's own Received line is in header_lines before the client sends a byte; the client's header starts after it. */
export const mark_header_start = guardHook('mark_header_start', function (this: HarakaPlugin, next: Next, connection: Connection) {
  const txn = connection.transaction
  if (txn) txn.notes.outpost_header_start = txn.header_lines.length
  next()
})

/** A client of a gateway's inbound port that has not logged in: the Internet delivering to the group. */
function isInbound(connection: Connection): boolean {
  return isInboundClient(connection, settings().gateway)
}

/**
 * Whether `domain` is the group's: this node's, or one the gateway takes
 * mail for (a peer's card or route). Nobody on the Internet sends as those:
 * the group's own mail reaches the gateway by AUTH or in signed bundles.
 */
function isGroupDomain(domain: string): boolean {
  const s = settings()
  const peers = routingPeers(nodeDb(s.db), s.domains)
  return inboundAccepts(domain, { domains: s.domains, inboundDomains: [], resolve: (d, o) => peers.resolveDomain(d, o) })
}

export const check_sender = guardHook('check_sender', function (this: HarakaPlugin, next: Next, connection: Connection, params: [HarakaAddress]) {
  if (isInbound(connection)) {
    // Any sender but the group's own, the null sender of a bounce included; the limit is per client address.
    const g = settings().gateway
    const claimed = domainOf(params[0].address)
    if (claimed && isGroupDomain(claimed)) {
      return next(constants.deny, smtpReply(550, '5.7.1', `Sender <${params[0].address}> is of this group's domain ${claimed}, whose mail never comes from the Internet; members send by logging in`))
    }
    const decision = inboundLimiter!.take(`ip:${connection.remote.ip ?? '?'}`)
    if (!decision.allowed) {
      return next(constants.denysoft, smtpReply(450, '4.7.1', `Too many messages from ${connection.remote.ip}: at most ${g.inboundPerMinute} a minute (${g.inboundBurst} at once); try again in ${Math.ceil(decision.retryAfterMs / 1000)} s`))
    }
    return next()
  }
  const user = authUser(connection)
  // For every client, localhost and the LAN included: on this box they are the phones.
  if (!user) return next(constants.deny, smtpReply(530, '5.7.0', 'Authentication required: log in with AUTH before MAIL FROM'))
  const sender = normaliseAddress(params[0].address)
  if (sender !== user) {
    return next(constants.deny, smtpReply(550, '5.7.1', `Sender <${sender}> is not the address you logged in as (<${user}>); send as yourself`))
  }
  const decision = limiter!.take(user)
  if (!decision.allowed) {
    const s = settings()
    const wait = Math.ceil(decision.retryAfterMs / 1000)
    return next(constants.denysoft, smtpReply(450, '4.7.1', `Sending too fast: at most ${s.sendPerMinute} messages a minute (${s.sendBurst} at once); try again in ${wait} s`))
  }
  next()
})

/** The recipient lookup of every RCPT, prepared once per database. */
const accountLookup = preparedPerDb((db) => db.select({ id: accounts.id }).from(accounts).where(eq(accounts.address, sql.placeholder('address'))).prepare())

export const check_recipient = guardHook('check_recipient', function (this: HarakaPlugin, next: Next, connection: Connection, params: [HarakaAddress]) {
  const s = settings()
  const txn = connection.transaction
  // rcpt_to already holds this recipient when the hook runs.
  if (txn && txn.rcpt_to.length > s.maxRecipients) {
    return next(constants.denysoft, smtpReply(452, '4.5.3', `Too many recipients: at most ${s.maxRecipients} per message; send the rest in another message`))
  }
  const address = normaliseAddress(params[0].address)
  const domain = domainOf(address)
  const db = nodeDb(s.db)
  const peers = routingPeers(db, s.domains)
  const resolve = (d: string, o: { useDefault?: boolean }) => peers.resolveDomain(d, o)
  const accountExists = (a: string) => accountLookup(db).get({ address: a }) !== undefined
  if (isInbound(connection)) {
    if (!inboundAccepts(domain, { domains: s.domains, inboundDomains: s.gateway.inboundDomains, resolve })) {
      return next(constants.deny, smtpReply(550, '5.7.1', `Relaying denied: this server takes mail only for its own domains, not for ${domain || address}`))
    }
  }
  const hop = nextHop(domain, { domains: s.domains, gateway: reachesInternet(s.gateway.enabled, db), resolve })
  if (hop.kind === 'local') {
    if (accountExists(address)) return next(constants.ok)
    return next(constants.deny, smtpReply(550, '5.1.1', `${address}: no such user here`))
  }
  // Mail for a peer's domain goes to the outbox (outpost_deliver), and on a
  // gateway mail for the Internet too: from authenticated local senders, or
  // (peer domains only) from the Internet on the inbound port.
  if (hop.kind === 'peer' || hop.kind === 'internet') return next(constants.ok)
  next(constants.deny, smtpReply(554, '5.7.1', hop.reason))
})

export const check_author = guardHook('check_author', function (this: HarakaPlugin, next: Next, connection: Connection) {
  const txn = connection.transaction
  if (!txn) return next(constants.deny, smtpReply(503, '5.5.1', 'No message to check'))
  // Before anything reads a header: a line Haraka cannot parse is stored as
  // it came while every check looks past it.
  const bad = firstBadHeaderLine(txn.header_lines.slice(Number(txn.notes.outpost_header_start ?? 0)))
  if (bad) {
    return next(constants.deny, smtpReply(550, '5.6.0', `Header line ${bad.line} is not "Name: value" (nor the continuation of a field): ${JSON.stringify(bad.text)}; fix the program that wrote the message`))
  }
  if (isInbound(connection)) {
    // Mail from the Internet carries its authors' own From:, checked by the
    // recipients' clients; but never one of the group's, which only members
    // (logged in, or in a peer's signed bundle) may write.
    const header = txn.header_lines.slice(Number(txn.notes.outpost_header_start ?? 0)).join('')
    const ours = fromDomains(header).find((d) => d && isGroupDomain(d))
    if (ours) return next(constants.deny, smtpReply(550, '5.7.1', `From: is at this group's domain ${ours}, whose mail never comes from the Internet`))
  } else {
    const user = authUser(connection)
    if (!user) return next(constants.deny, smtpReply(530, '5.7.0', 'Authentication required'))
    const author = authorOf(txn.header.get_all('From'))
    if (!author.ok) return next(constants.deny, smtpReply(550, '5.7.1', `Refused: ${author.reason}`))
    if (author.address !== user) {
      return next(constants.deny, smtpReply(550, '5.7.1', `From: <${author.address}> is not the address you logged in as (<${user}>); send as yourself`))
    }
  }
  // As submission servers do (RFC 6409 §8.3): a message without a
  // Message-ID gets a unique one here, so two scripted messages with the same
  // sender and text are two messages to the delivery ledger, not a retry.
  if (!txn.header.get('Message-ID').trim()) txn.add_header('Message-ID', `<${randomUUID()}@${settings().domains[0] ?? 'outpost.invalid'}>`)
  next()
})
