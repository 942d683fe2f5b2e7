// Who may send what. Only logged-in accounts send, only as themselves (in
// the envelope and in From:), at a bounded rate, to recipients the router
// knows. Everything is refused at the command it concerns, with a reply a
// person can act on, so a refused message never reaches the queue.
import constants from 'haraka-constants'
import { eq } from 'drizzle-orm'
import { accounts } from '../../db/schema.js'
import { normaliseAddress } from '../../accounts/address.js'
import { domainOf, resolveRecipient } from '../../routing/router.js'
import type { Connection, HarakaAddress, HarakaPlugin, Next } from '../lib/haraka-api.js'
import { authorOf } from '../lib/author.js'
import { guardHook } from '../lib/guard.js'
import { nodeDb, routingPeers } from '../lib/node-db.js'
import { attachToSupervisor } from '../lib/lifecycle.js'
import { watchSettings } from '../lib/plugin-settings.js'
import { RateLimiter } from '../lib/ratelimit.js'
import { smtpReply } from '../lib/reply.js'
import type { OutpostSettings } from '../lib/settings.js'

let settings: () => OutpostSettings
let limiter: RateLimiter | undefined

export function register(this: HarakaPlugin): void {
  settings = watchSettings(this, (s) => {
    const limits = { perMinute: s.sendPerMinute, burst: s.sendBurst }
    if (limiter) limiter.setLimits(limits)
    else limiter = new RateLimiter(limits)
  })
  attachToSupervisor(settings().pidFile)
  this.register_hook('mail', 'check_sender')
  this.register_hook('rcpt', 'check_recipient')
  this.register_hook('data_post', 'check_author')
}

function authUser(connection: Connection): string | null {
  const user = connection.notes.auth_user
  return connection.relaying && typeof user === 'string' && user ? normaliseAddress(user) : null
}

export const check_sender = guardHook('check_sender', function (this: HarakaPlugin, next: Next, connection: Connection, params: [HarakaAddress]) {
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

export const check_recipient = guardHook('check_recipient', function (this: HarakaPlugin, next: Next, connection: Connection, params: [HarakaAddress]) {
  const s = settings()
  const txn = connection.transaction
  // rcpt_to already holds this recipient when the hook runs.
  if (txn && txn.rcpt_to.length > s.maxRecipients) {
    return next(constants.denysoft, smtpReply(452, '4.5.3', `Too many recipients: at most ${s.maxRecipients} per message; send the rest in another message`))
  }
  const address = normaliseAddress(params[0].address)
  const db = nodeDb(s.db)
  const route = resolveRecipient(address, {
    domains: s.domains,
    accountExists: (a) => db.select({ id: accounts.id }).from(accounts).where(eq(accounts.address, a)).get() !== undefined,
    peerFor: (domain) => routingPeers(db, s.domains).resolveDomain(domain)?.peer,
  })
  // Mail for a peer's domain goes to the outbox (outpost_deliver), from
  // authenticated local senders only: MAIL FROM has checked that already.
  if (route.kind === 'local' || route.kind === 'peer') return next(constants.ok)
  if (s.domains.includes(domainOf(address))) return next(constants.deny, smtpReply(550, '5.1.1', route.reason))
  next(constants.deny, smtpReply(554, '5.7.1', route.reason))
})

export const check_author = guardHook('check_author', function (this: HarakaPlugin, next: Next, connection: Connection) {
  const user = authUser(connection)
  const txn = connection.transaction
  if (!user || !txn) return next(constants.deny, smtpReply(530, '5.7.0', 'Authentication required'))
  const author = authorOf(txn.header.get_all('From'))
  if (!author.ok) return next(constants.deny, smtpReply(550, '5.7.1', `Refused: ${author.reason}`))
  if (author.address !== user) {
    return next(constants.deny, smtpReply(550, '5.7.1', `From: <${author.address}> is not the address you logged in as (<${user}>); send as yourself`))
  }
  next()
})
