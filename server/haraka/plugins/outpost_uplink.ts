// A gateway's way out to the Internet, through Haraka's own outbound queue
// (retries, MX lookup, STARTTLS, DKIM signing by the dkim plugin's
// pre_send_trans_email hook):
//
// - the feeder moves the outbox's mail for INTERNET (put there by
//   outpost_deliver for local senders, and by the bundle import for the
//   group's off-grid nodes) into Haraka's outbound queue;
// - get_mx sends it to the smarthost when one is set, else to the static MX
//   of [gateway] static_mx, else lets Haraka look up the domain's MX;
// - delivered and bounce record what became of it in the event log; a
//   bounce for one of the group's senders goes back the way the group's
//   mail goes (the sender's mailbox here, or the outbox for its node),
//   since the group's domains have no MX that reaches an off-grid node.
//
// A message leaves the outbox only after Haraka's queue file for it is
// written, fsynced and renamed into place (outbound.send_trans_email answers
// OK only then). A crash between those two steps sends it twice, never zero
// times.
import constants from 'haraka-constants'
import { createRequire } from 'node:module'
import type { HarakaPlugin, Next } from '../lib/haraka-api.js'
import { guardHook } from '../lib/guard.js'
import { nodeDb, routingPeers } from '../lib/node-db.js'
import { deliver } from '../../delivery/deliver.js'
import { stableMessageId } from '../../bundle/message-id.js'
import { attachToSupervisor } from '../lib/lifecycle.js'
import { watchSettings } from '../lib/plugin-settings.js'
import type { OutpostSettings } from '../lib/settings.js'
import { Outbox } from '../../outbox/outbox.js'
import { EventLog } from '../../events/log.js'
import { domainOf, INTERNET, nextHop, parseStaticMx, staticMxFor } from '../../routing/route.js'
import { UplinkService } from '../../gateway/uplink.js'

let settings: () => OutpostSettings
/**
 * The hosts Haraka's outbound requires verified STARTTLS for, as it read them
 * from tls.ini [outbound] at start (it never reads them again).
 */
let forcedTls = new Set<string>()

/** How often the outbox is looked at for mail to the Internet. */
const FEED_INTERVAL_MS = 1000
/** A message Haraka would not queue is tried again after this long. */
const FEED_RETRY_MS = 60_000

interface OutboundTransaction {
  uuid: string
  mail_from: unknown
  rcpt_to: unknown[]
  notes: Record<string, unknown>
  add_data(line: Buffer): void
  message_stream: { add_line_end(): void }
}

interface HarakaOutbound {
  send_trans_email(txn: OutboundTransaction, next: (code: number, msg?: string) => void): void
}

interface Hmail {
  todo: { domain: string; notes?: Record<string, unknown>; mail_from?: { address?: string }; rcpt_to: { address?: string; original?: string }[] }
  populate_bounce_message(from: unknown, to: unknown, reason: unknown, cb: (err: unknown, lines?: string[]) => void): void
  logerror(...args: unknown[]): void
  loginfo(...args: unknown[]): void
}

// Haraka's own modules, from the Haraka that runs this plugin (the same
// node_modules, so the same module instances as its outbound queue).
const harakaRequire = (id: string): unknown => createRequire(import.meta.url)(id)

export function register(this: HarakaPlugin): void {
  settings = watchSettings(this)
  attachToSupervisor(settings().pidFile)
  forcedTls = forcedTlsHosts(this.config.get('tls.ini') as Record<string, Record<string, unknown> | undefined>)
  this.register_hook('get_mx', 'choose_mx')
  this.register_hook('delivered', 'record_delivered')
  this.register_hook('bounce', 'record_bounce')
  const timer = setInterval(() => void feed(this), FEED_INTERVAL_MS)
  timer.unref()
}

/** Lines as Haraka's SMTP receiver hands them to a transaction: CRLF endings, a leading dot doubled. */
export function transactionLines(message: Buffer): Buffer[] {
  const lines: Buffer[] = []
  let start = 0
  while (start < message.length) {
    let end = message.indexOf(0x0a, start)
    if (end === -1) end = message.length
    let line = message.subarray(start, end)
    if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1)
    lines.push(Buffer.concat([line[0] === 0x2e ? Buffer.from('.') : Buffer.alloc(0), line, Buffer.from('\r\n')]))
    start = end + 1
  }
  return lines
}

function queueOutbound(sender: string, recipients: string[], message: Buffer, messageId: string): Promise<void> {
  const outbound = harakaRequire('Haraka/outbound') as HarakaOutbound
  const trans = harakaRequire('Haraka/transaction') as { createTransaction(uuid?: string, cfg?: unknown): OutboundTransaction }
  const { Address } = harakaRequire('@haraka/email-address') as { Address: new (s: string) => unknown }
  const txn = trans.createTransaction(undefined, { headers: { max_lines: 1000 } })
  txn.mail_from = new Address(`<${sender}>`)
  txn.rcpt_to = recipients.map((r) => new Address(`<${r}>`))
  // Carried into each hmail's todo.notes, so delivered/bounce can name the message.
  txn.notes.outpost_message_id = messageId
  for (const line of transactionLines(message)) txn.add_data(line)
  txn.message_stream.add_line_end()
  return new Promise((resolve, reject) => {
    outbound.send_trans_email(txn, (code, msg) => {
      if (code === constants.ok) resolve()
      else reject(new Error(`Haraka's outbound queue refused it (${code}): ${msg ?? ''}`))
    })
  })
}

let feeding = false
const retryAt = new Map<string, number>()

async function feed(plugin: HarakaPlugin): Promise<void> {
  if (feeding) return
  feeding = true
  try {
    const s = settings()
    if (!s.gateway.enabled) return
    const db = nodeDb(s.db)
    const outbox = new Outbox(db, s.spoolDir)
    for (const e of outbox.waiting(INTERNET)) {
      if ((retryAt.get(e.messageId) ?? 0) > Date.now()) continue
      try {
        await queueOutbound(e.sender, e.recipients, outbox.read(e.messageId), e.messageId)
        outbox.acknowledge(INTERNET, [e.messageId])
        retryAt.delete(e.messageId)
        plugin.loginfo(`queued ${e.messageId.slice(0, 16)} from <${e.sender}> for the Internet: ${e.recipients.join(', ')}`)
      } catch (err) {
        retryAt.set(e.messageId, Date.now() + FEED_RETRY_MS)
        plugin.logerror(`cannot queue ${e.messageId.slice(0, 16)} for the Internet (tried again in ${FEED_RETRY_MS / 1000} s):`, err)
      }
    }
  } catch (err) {
    plugin.logerror('the outbox for the Internet cannot be read:', err)
  } finally {
    feeding = false
  }
}

/** An MX for Haraka whose password stays out of its debug log line (it logs the object with JSON.stringify). */
function mx(host: string, port: number, auth?: { user: string; password: string }): Record<string, unknown> {
  const m: Record<string, unknown> = { exchange: host, port, priority: 0 }
  if (auth) {
    m.auth_user = auth.user
    Object.defineProperty(m, 'auth_pass', { value: auth.password, enumerable: false })
  }
  return m
}

/** tls.ini's [outbound] force_tls_hosts, one value or a list. */
export function forcedTlsHosts(tlsIni: Record<string, Record<string, unknown> | undefined>): Set<string> {
  const v = tlsIni.outbound?.force_tls_hosts
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\s,]+/) : []
  return new Set(list.map((h) => String(h).trim().toLowerCase()).filter(Boolean))
}

export const choose_mx = guardHook('choose_mx', function (this: HarakaPlugin, next: Next, hmail: Hmail, domain: string) {
  const s = settings()
  const smarthost = new UplinkService(nodeDb(s.db), s.gateway.keysDir).smarthostForDelivery()
  if (smarthost) {
    // Our password goes only where TLS is required: a smarthost set since
    // Haraka started waits for the restart the node gives it.
    if (!forcedTls.has(smarthost.host.toLowerCase())) {
      this.logwarn(`the smarthost ${smarthost.host} was set after Haraka started, so TLS is not yet required there; mail waits for the restart`)
      return next(constants.denysoft, `smarthost ${smarthost.host} is used once Haraka restarts with TLS required for it`)
    }
    return next(constants.ok, mx(smarthost.host, smarthost.port, smarthost) as never)
  }
  const fixed = staticMxFor(parseStaticMx(s.gateway.staticMx), domain)
  if (fixed) return next(constants.ok, mx(fixed.host, fixed.port) as never)
  // Haraka looks up the domain's MX in DNS.
  next()
})

export const record_delivered = guardHook('record_delivered', function (this: HarakaPlugin, next: Next, hmail: Hmail, params: unknown[]) {
  const s = settings()
  const messageId = String(hmail.todo.notes?.outpost_message_id ?? '')
  const host = String(params?.[0] ?? '')
  const okRecips = (params?.[6] as { address?: string; original?: string }[] | undefined) ?? hmail.todo.rcpt_to
  const log = new EventLog(nodeDb(s.db))
  for (const r of okRecips) log.record('message.sent', { messageId, recipient: String(r.address ?? r.original ?? r), via: host })
  next()
})

export const record_bounce = guardHook('record_bounce', function (this: HarakaPlugin, next: Next, hmail: Hmail, err: unknown) {
  const s = settings()
  const db = nodeDb(s.db)
  const rcpts = hmail.todo.rcpt_to.map((r) => String(r.address ?? r.original ?? r)).join(', ')
  const reason = (err as Error)?.message ?? String(err)
  new EventLog(db).record('error', { source: 'gateway', message: `mail to ${rcpts} could not be delivered and was given up: ${reason}` })
  const sender = String(hmail.todo.mail_from?.address ?? '').toLowerCase()
  // A bounce that bounces is dropped, as every MTA does.
  if (!sender) return next(constants.ok)
  const peers = routingPeers(db, s.domains)
  const hop = nextHop(domainOf(sender), { domains: s.domains, gateway: true, resolve: (d, o) => peers.resolveDomain(d, o) })
  // A sender on the Internet (none of ours) gets Haraka's own bounce by MX.
  if (hop.kind !== 'local' && hop.kind !== 'peer') return next()
  // The group's domains have no MX that reaches the sender: the report goes
  // the way the group's mail goes, to the local mailbox or in a bundle.
  const { Address } = harakaRequire('@haraka/email-address') as { Address: new (s: string) => unknown }
  hmail.populate_bounce_message(new Address('<>'), new Address(`<${sender}>`), err, (e, lines) => {
    if (e || !lines) {
      hmail.logerror(`cannot write the bounce for <${sender}>; it is only in the event log:`, e)
      return next(constants.ok)
    }
    const data = Buffer.from(lines.join(''), 'utf8')
    const messageId = stableMessageId(data, '')
    const done = (p: Promise<unknown>) =>
      p.then(
        () => {
          hmail.loginfo(`bounce for <${sender}> handed to ${hop.kind === 'peer' ? `the outbox for ${hop.peer}` : 'the local mailbox'}`)
          next(constants.ok)
        },
        (failure: unknown) => {
          hmail.logerror(`cannot hand on the bounce for <${sender}>; it is only in the event log:`, failure)
          next(constants.ok)
        },
      )
    if (hop.kind === 'peer') return done(Promise.resolve(new Outbox(db, s.spoolDir).enqueue({ messageId, sender: '', data, byPeer: new Map([[hop.peer, [sender]]]), hops: 0 })))
    void done(deliver({ db, lmtp: { socketPath: s.lmtpSocket, lhloName: s.hostname, timeoutMs: s.lmtpTimeoutMs }, sender: '', recipients: [sender], message: data, mailDir: s.mailDir }))
  })
})
