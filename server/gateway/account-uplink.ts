// An ordinary email account as the uplink (no gateway): mail for the
// Internet leaves through the account's SMTP submission, and mail for the
// group is fetched from its IMAP INBOX, where the world writes to
// plus-addresses of the account (group+alice@provider.example). What this
// can and cannot do (From rewriting, DKIM alignment, Delta Chat's
// encryption) is in docs/uplink.md.
//
// Sending: a message leaves the outbox only after the provider answered
// 250. Fetching: a message is deleted from the INBOX only after it is ours
// (stored by Dovecot, in the outbox for a peer, or in quarantine).
// nodemailer and imapflow are loaded when a run needs them: most nodes never
// use an account uplink, and the two cost a running node about 9 MB.
import { eq } from 'drizzle-orm'
import type { NodeContext } from '../context/context.js'
import { Outbox } from '../outbox/outbox.js'
import { PeerService } from '../peers/service.js'
import { accounts } from '../db/schema.js'
import { EventLog } from '../events/log.js'
import { deliver } from '../delivery/deliver.js'
import { quarantine } from '../base/quarantine.js'
import { stableMessageId } from '../bundle/message-id.js'
import { groupByHop, INTERNET } from '../routing/route.js'
import type { AccountUplink } from './uplink.js'
import { waitRunLock } from '../base/run-lock.js'

export interface AccountRunResult {
  sent: number
  fetched: number
  delivered: number
  quarantined: number
}

/** `local` for our own users, `local=domain` for a neighbour's: the tag a reply comes back under. */
export function plusTag(sender: string, ownDomains: readonly string[]): string {
  const at = sender.lastIndexOf('@')
  const local = sender.slice(0, at).toLowerCase()
  const domain = sender.slice(at + 1).toLowerCase()
  return ownDomains.includes(domain) ? local : `${local}=${domain}`
}

/** The group address a plus-tag stands for, or undefined. */
export function addressOfTag(tag: string, ownDomain: string): string | undefined {
  const [local, domain] = tag.includes('=') ? tag.split('=', 2) : [tag, ownDomain]
  if (!local || !domain || !/^[a-z0-9._-]+$/i.test(local) || !/^[a-z0-9.-]+$/i.test(domain)) return undefined
  return `${local}@${domain}`.toLowerCase()
}

function splitHead(message: Buffer): { head: string; body: Buffer } {
  const crlf = message.indexOf('\r\n\r\n')
  const lf = message.indexOf('\n\n')
  const [at, len] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : lf !== -1 ? [lf, 2] : [message.length, 0]
  return { head: message.subarray(0, at).toString('latin1'), body: message.subarray(at + len) }
}

/** Header fields as [name, whole field with continuation lines]. */
function fields(head: string): [string, string][] {
  const out: [string, string][] = []
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) out[out.length - 1]![1] += `\r\n${line}`
    else if (line) out.push([line.slice(0, line.indexOf(':')).trim().toLowerCase(), line])
  }
  return out
}

/**
 * The provider sends only as the account, and signs DKIM for its own
 * domain: the author becomes the account, the original author is kept in
 * X-Original-From, and Reply-To is the plus-address that routes a reply back.
 */
export function rewriteForAccount(message: Buffer, account: string, sender: string, ownDomains: readonly string[]): Buffer {
  const { head, body } = splitHead(message)
  const at = account.lastIndexOf('@')
  const replyTo = `${account.slice(0, at)}+${plusTag(sender, ownDomains)}@${account.slice(at + 1)}`
  const drop = new Set(['from', 'reply-to', 'sender', 'dkim-signature', 'return-path'])
  const kept = fields(head).filter(([n]) => !drop.has(n)).map(([, f]) => f)
  const display = sender.replace(/["\\\r\n]/g, '')
  const headers = [`From: "${display}" <${account}>`, `Reply-To: <${replyTo}>`, `X-Original-From: <${sender.replace(/[\r\n<>]/g, '')}>`, ...kept]
  return Buffer.concat([Buffer.from(`${headers.join('\r\n')}\r\n\r\n`, 'latin1'), body])
}

/** The group addresses a fetched message is for: the plus-tags of the account's address in its recipient headers. */
export function groupRecipients(message: Buffer, account: string, ownDomain: string): string[] {
  const at = account.lastIndexOf('@')
  const local = account.slice(0, at).toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const domain = account.slice(at + 1).toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const re = new RegExp(`${local}\\+([^@\\s<>",;]+)@${domain}`, 'gi')
  const wanted = new Set(['to', 'cc', 'delivered-to', 'x-original-to', 'envelope-to'])
  const out = new Set<string>()
  for (const [name, field] of fields(splitHead(message).head)) {
    if (!wanted.has(name)) continue
    for (const m of field.matchAll(re)) {
      const a = addressOfTag(m[1]!, ownDomain)
      if (a) out.add(a)
    }
  }
  return [...out]
}

function envelopeSender(message: Buffer): string {
  for (const [name, field] of fields(splitHead(message).head)) {
    if (name === 'return-path' || name === 'from') {
      const m = /<([^<>\s]+@[^<>\s]+)>/.exec(field) ?? /([^\s<>:]+@[^\s<>]+)/.exec(field.slice(field.indexOf(':') + 1))
      if (m) return m[1]!.toLowerCase()
    }
  }
  return ''
}

export class AccountUplinkRunner {
  private running: Promise<AccountRunResult> | undefined

  constructor(
    private readonly node: NodeContext,
    private readonly account: () => AccountUplink | undefined,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** One run: send what waits, then fetch; runs never overlap. */
  run(): Promise<AccountRunResult> {
    this.running ??= this.runOnce().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async runOnce(): Promise<AccountRunResult> {
    const acct = this.account()
    if (!acct) throw new Error('no email account is set as the uplink (`outpost uplink account set …`)')
    // The node and `outpost uplink account run` may both start a run: one
    // at a time, or a waiting message could be sent twice.
    const release = await waitRunLock(this.node.paths.run, 'uplink-account', 'the email-account uplink', 5 * 60_000)
    try {
      const r: AccountRunResult = { sent: 0, fetched: 0, delivered: 0, quarantined: 0 }
      await this.send(acct, r)
      await this.fetch(acct, r)
      return r
    } finally {
      release()
    }
  }

  private async send(acct: AccountUplink, r: AccountRunResult): Promise<void> {
    const { db, paths, config } = this.node
    const outbox = new Outbox(db, paths.spool)
    const waiting = outbox.waiting(INTERNET)
    if (!waiting.length) return
    const { default: nodemailer } = await import('nodemailer')
    const transport = nodemailer.createTransport({
      host: acct.smtpHost,
      port: acct.smtpPort,
      secure: acct.smtpPort === 465,
      requireTLS: acct.smtpPort !== 465,
      tls: { rejectUnauthorized: !acct.insecureTls },
      auth: { user: acct.user, pass: acct.password },
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
    })
    const events = new EventLog(db)
    try {
      for (const e of waiting) {
        const raw = rewriteForAccount(outbox.read(e.messageId), acct.address, e.sender, [config.node.domain])
        await transport.sendMail({ envelope: { from: acct.address, to: e.recipients }, raw })
        // The provider has it (250): it is no longer ours to keep.
        outbox.acknowledge(INTERNET, [e.messageId])
        for (const to of e.recipients) events.record('message.sent', { messageId: e.messageId, recipient: to, via: `account ${acct.address}` })
        r.sent++
      }
    } finally {
      transport.close()
    }
  }

  private async fetch(acct: AccountUplink, r: AccountRunResult): Promise<void> {
    const { db, paths, config } = this.node
    const domain = config.node.domain
    const peers = new PeerService(db, { domains: [domain], signPublicB64: '' })
    const outbox = new Outbox(db, paths.spool)
    const { ImapFlow } = await import('imapflow')
    const client = new ImapFlow({
      host: acct.imapHost,
      port: acct.imapPort,
      secure: acct.imapPort === 993,
      doSTARTTLS: acct.imapPort === 993 ? undefined : true,
      tls: { rejectUnauthorized: !acct.insecureTls },
      auth: { user: acct.user, pass: acct.password },
      logger: false,
    })
    await client.connect()
    try {
      const lock = await client.getMailboxLock('INBOX')
      try {
        const done: number[] = []
        const mailbox = client.mailbox
        const exists = mailbox && typeof mailbox === 'object' ? mailbox.exists : 0
        if (!exists) return
        for await (const msg of client.fetch('1:*', { uid: true, source: true })) {
          const source = msg.source
          if (!source) continue
          r.fetched++
          const sender = envelopeSender(source)
          const targets = groupRecipients(source, acct.address, domain)
          const local = targets.filter((t) => t.endsWith(`@${domain}`) && db.select({ id: accounts.id }).from(accounts).where(eq(accounts.address, t)).get())
          // Only a peer named for the domain takes it: never the default route, never the Internet.
          const { byPeer } = groupByHop(
            targets.filter((x) => !x.endsWith(`@${domain}`)),
            { domains: [domain], gateway: false, resolve: (d, o) => peers.resolveDomain(d, { ...o, useDefault: false }) },
            (t) => t.slice(t.lastIndexOf('@') + 1),
          )
          if (!local.length && !byPeer.size) {
            quarantine(paths.quarantine, `account-${msg.uid}.eml`, source, `fetched from ${acct.address}: no plus-address of it names a user of this node or of a peer (To: ${targets.join(', ') || 'none'})`)
            r.quarantined++
            done.push(msg.uid)
            continue
          }
          if (byPeer.size) outbox.enqueue({ messageId: stableMessageId(source, sender), sender, data: source, byPeer, hops: 0 })
          if (local.length) {
            const outcome = await deliver({ db, lmtp: { socketPath: paths.lmtpSocket, lhloName: domain, timeoutMs: 30_000 }, sender, recipients: local, message: source, mailDir: paths.mail })
            // Dovecot is down for a moment: leave it in the INBOX for the next run.
            if (outcome.verdict === 'retry') continue
            if (outcome.verdict === 'rejected') {
              quarantine(paths.quarantine, `account-${msg.uid}.eml`, source, `fetched from ${acct.address}: local delivery refused: ${outcome.text}`)
              r.quarantined++
            } else r.delivered++
          }
          done.push(msg.uid)
        }
        if (done.length) await client.messageDelete(done, { uid: true })
      } finally {
        lock.release()
      }
    } finally {
      await client.logout().catch(() => client.close())
    }
    if (r.fetched) this.log(`uplink: fetched ${r.fetched} messages from ${acct.address}, ${r.delivered} delivered, ${r.quarantined} to quarantine`)
  }
}
