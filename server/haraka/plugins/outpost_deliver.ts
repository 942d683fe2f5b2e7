// Delivers accepted mail to Dovecot over LMTP (delivery/deliver.ts). It hooks
// queue_outbound, where Haraka sends every authenticated sender's mail, and
// queue for completeness; whatever happens, it answers, so nothing falls
// through to Haraka's own outbound queue.
import constants from 'haraka-constants'
import type { Connection, HarakaPlugin, Next } from '../lib/haraka-api.js'
import { CLIENT_RETRY_WINDOW_MS, deliver } from '../../delivery/deliver.js'
import { readMessage } from '../lib/read-message.js'
import { guardHook } from '../lib/guard.js'
import { nodeDb, routingPeers } from '../lib/node-db.js'
import { Outbox } from '../../outbox/outbox.js'
import { stableMessageId } from '../../bundle/message-id.js'
import { domainOf, groupByHop } from '../../routing/route.js'
import { reachesInternet } from '../../routing/internet.js'
import { attachToSupervisor, trackDelivery } from '../lib/lifecycle.js'
import { watchSettings } from '../lib/plugin-settings.js'
import { smtpReply } from '../lib/reply.js'
import { belowFloor } from '../../base/disk-floor.js'
import { dirname } from 'node:path'
import type { OutpostSettings } from '../lib/settings.js'
import type { Db } from '../../db/index.js'
import { DeferredEvents, deliveryEvents } from '../lib/events.js'
import { LedgerWriter } from '../../delivery/ledger-writer.js'
import { acceptTrace, type AcceptStep, type MessageTrace } from '../lib/accept-trace.js'

let settings: () => OutpostSettings
let events: DeferredEvents
/** One writer per open database, shared by every SMTP session of the process: their ledger writes are grouped. */
const ledgers = new WeakMap<Db, LedgerWriter>()

/** Haraka adds Received and Authentication-Results headers after the size check. */
const HEADER_ALLOWANCE = 64 * 1024

export function register(this: HarakaPlugin): void {
  settings = watchSettings(this)
  events = new DeferredEvents(() => settings().db, (line) => this.logerror(line))
  attachToSupervisor(settings().pidFile)
  this.register_hook('connect_init', 'answer_without_delay')
  this.register_hook('queue_outbound', 'deliver_local')
  this.register_hook('queue', 'deliver_local')
  // Only for the benchmark's breakdown (OUTPOST_ACCEPT_TRACE): first at MAIL FROM, last after DATA.
  if (acceptTrace()) {
    this.register_hook('mail', 'trace_mail', -1000)
    for (const [hook, step, priority] of TRACE_HOOKS) this.register_hook(hook, `trace_${step}`, priority)
  }
}

function ledgerFor(db: Db, plugin: HarakaPlugin): LedgerWriter {
  let ledger = ledgers.get(db)
  if (!ledger) ledgers.set(db, (ledger = new LedgerWriter(db, (line) => plugin.logerror(line))))
  return ledger
}

/**
 * Turns Nagle's algorithm off for the client's socket. Haraka never does
 * (its socket wrapper's setNoDelay is empty), so a reply written while an
 * earlier one waits for the client's delayed ACK sits in the kernel for up
 * to 40 ms: measured, that was most of MAIL FROM → 250 (OUTPOST_ACCEPT_TRACE).
 * The option is on the TCP socket, so it holds after STARTTLS too.
 */
export const answer_without_delay = guardHook('answer_without_delay', function (this: HarakaPlugin, next: Next, connection: Connection) {
  ;(connection as unknown as { client?: { targetsocket?: { setNoDelay?(on: boolean): unknown } } }).client?.targetsocket?.setNoDelay?.(true)
  next()
})

const TRACE_NOTE = 'outpost_accept_trace'
const traceOf = (connection: Connection): MessageTrace | undefined => connection.transaction?.notes[TRACE_NOTE] as MessageTrace | undefined

export const trace_mail = guardHook('trace_mail', function (this: HarakaPlugin, next: Next, connection: Connection) {
  const trace = acceptTrace()
  if (trace && connection.transaction) connection.transaction.notes[TRACE_NOTE] = trace.start()
  next()
})

/** Hooks that mark a step: first (-1000) where a step is the client's command arriving, last (1000) where it is other plugins' hooks done. */
const TRACE_HOOKS = [
  ['mail', 'mailDone', 1000],
  ['rcpt', 'rcpt', -1000],
  ['rcpt', 'rcptDone', 1000],
  ['data', 'data', -1000],
  ['data_post', 'body', -1000],
  ['data_post', 'dataPost', 1000],
] as const

const markHook = (step: AcceptStep) =>
  guardHook(`trace_${step}`, function (this: HarakaPlugin, next: Next, connection: Connection) {
    traceOf(connection)?.mark(step)
    next()
  })
export const trace_mailDone = markHook('mailDone')
export const trace_rcpt = markHook('rcpt')
export const trace_rcptDone = markHook('rcptDone')
export const trace_data = markHook('data')
export const trace_body = markHook('body')
export const trace_dataPost = markHook('dataPost')

export const deliver_local = guardHook('deliver_local', async function (this: HarakaPlugin, next: Next, connection: Connection) {
  const txn = connection.transaction
  if (!txn) return next(constants.denysoft, smtpReply(451, '4.3.0', 'No transaction to deliver'))
  const trace = traceOf(connection)
  trace?.mark('queueHook')
  const s = settings()
  const message = await readMessage(txn.message_stream, s.maxMessageBytes + HEADER_ALLOWANCE)
  trace?.mark('read')
  // Before anything is written: a full disk makes writes fail after the
  // point of no return, so below the floor the client keeps the message.
  // The message is written up to twice (outbox and mailbox), hence 2×.
  const full = belowFloor(dirname(s.db), s.minFreeBytes, 2 * message.length)
  if (full) {
    connection.logwarn(this, `refusing for now: ${full}`)
    return next(constants.denysoft, smtpReply(452, '4.3.1', 'Insufficient system storage; please try again later'))
  }
  const db = nodeDb(s.db)
  const sender = txn.mail_from.address
  const peers = routingPeers(db, s.domains)
  // Mail for the Internet waits in the outbox like peer mail (under
  // INTERNET); outpost_uplink hands it to Haraka's outbound queue.
  const { local, byPeer, none } = groupByHop(
    txn.rcpt_to.map((r) => r.address.toLowerCase()),
    { domains: s.domains, gateway: reachesInternet(s.gateway.enabled, db), resolve: (d, o) => peers.resolveDomain(d, o) },
  )
  // The route went away between RCPT and now: let the client try again.
  if (none[0]) return next(constants.denysoft, smtpReply(451, '4.4.0', `No route to ${domainOf(none[0].recipient)} any more; please try again later`))
  const messageId = stableMessageId(message, sender)
  const outcome = await trackDelivery(async () => {
    // Into the outbox first: it is a local file and a row, so it rarely
    // fails, and both steps are idempotent when the client retries.
    if (byPeer.size) new Outbox(db, s.spoolDir, events).enqueue({ messageId, sender, data: message, byPeer, hops: 0 })
    trace?.mark('routed')
    if (!local.length) return { verdict: 'delivered' as const, text: `2.0.0 Queued for ${[...byPeer.keys()].join(', ')}`, messageKey: messageId }
    return deliver({
      db,
      lmtp: { socketPath: s.lmtpSocket, lhloName: s.hostname, timeoutMs: s.lmtpTimeoutMs },
      sender,
      recipients: local,
      message,
      mailDir: s.mailDir,
      key: messageId,
      // A client's retry comes within hours; the same key a day later is a new message.
      retryWindowMs: CLIENT_RETRY_WINDOW_MS,
      ledger: ledgerFor(db, this),
      ...(trace && { onStep: (step) => trace.mark(step) }),
    })
  })
  connection.loginfo(this, `delivery ${outcome.verdict}: key=${outcome.messageKey.slice(0, 16)} ${outcome.text}`)
  // Written after the answer, by DeferredEvents: reporting never holds the client up.
  const happened = deliveryEvents({ messageId, from: sender, to: txn.rcpt_to.map((r) => r.address.toLowerCase()), size: message.length }, outcome)
  if (outcome.verdict === 'delivered') next(constants.ok, outcome.text)
  else if (outcome.verdict === 'retry') next(constants.denysoft, outcome.text)
  else next(constants.deny, outcome.text)
  trace?.done()
  for (const ev of happened) events.record(ev.kind, ev.data)
})
