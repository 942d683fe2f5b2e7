// Plain mail clients against a submission server: a real SMTP client
// (nodemailer, STARTTLS then AUTH, as Delta Chat does) and a real IMAP client
// (imapflow) sitting in IDLE on the recipient's INBOX.
import { watch, type FSWatcher } from 'node:fs'
import { randomBytes } from 'node:crypto'
import nodemailer from 'nodemailer'
import { ImapFlow } from 'imapflow'

export interface SubmissionTarget {
  label: string
  port: number
  /** Omitted when the server takes mail without AUTH. */
  auth?: { user: string; pass: string }
}

export interface Login {
  address: string
  password: string
}

/** A body the size of a Delta Chat message: ~1.7 KB of armored OpenPGP-like text. */
export function chatSizedBody(): string {
  const armored = randomBytes(1200).toString('base64').replace(/.{1,64}/g, '$&\r\n')
  return `-----BEGIN PGP MESSAGE-----\r\n\r\n${armored}-----END PGP MESSAGE-----\r\n`
}

export function submitter(target: SubmissionTarget) {
  // One kept-open connection per submitter: the TLS handshake and AUTH are
  // paid once, as with a phone that stays connected.
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: target.port,
    secure: false,
    requireTLS: true,
    name: 'bench.localhost',
    ...(target.auth ? { auth: target.auth } : {}),
    // Both servers present the node's self-signed certificate.
    tls: { rejectUnauthorized: false },
    pool: true,
    maxConnections: 1,
    maxMessages: Number.POSITIVE_INFINITY,
  })
}

/** An IMAP client in IDLE on INBOX, timestamping every EXISTS it is pushed. */
export class IdleWatcher {
  private count = 0
  private waiters: Array<{ count: number; resolve: (at: number) => void }> = []
  private stored: number[] = []
  private seenFiles = new Set<string>()
  private fsWatch: FSWatcher | undefined

  private constructor(private client: ImapFlow) {
    client.on('exists', (e) => {
      const at = performance.now()
      this.count = e.count
      this.waiters = this.waiters.filter((w) => {
        if (w.count > this.count) return true
        w.resolve(at)
        return false
      })
    })
  }

  static async open(port: number, login: Login, maildirNew?: string): Promise<IdleWatcher> {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      doSTARTTLS: true,
      auth: { user: login.address, pass: login.password },
      tls: { rejectUnauthorized: false },
      logger: false,
      // IDLE right away after SELECT; the default waits 15 s of inactivity.
      autoIdleDelay: 50,
    })
    let box
    try {
      await client.connect()
      box = await client.mailboxOpen('INBOX')
    } catch (err) {
      const e = err as Error & { responseText?: string; executedCommand?: string }
      throw new Error(`IMAP watcher for ${login.address} on 127.0.0.1:${port}: ${e.message}${e.executedCommand ? ` (${e.executedCommand.trim()})` : ''}${e.responseText ? `: ${e.responseText}` : ''}`, { cause: err })
    }
    const w = new IdleWatcher(client)
    w.count = box.exists
    if (maildirNew) {
      // When each file lands in the Maildir splits a delay into "delivery" and "IDLE push".
      // The SELECT above made Dovecot create the Maildir; creating it here instead would
      // leave it owned by the wrong user.
      w.fsWatch = watch(maildirNew, (event, name) => {
        // A name seen before is the file leaving new/ for cur/, not an arrival.
        if (event !== 'rename' || !name || w.seenFiles.has(name)) return
        w.seenFiles.add(name)
        w.stored.push(performance.now())
      })
    }
    // Give auto-IDLE time to start before anything is sent.
    await new Promise((r) => setTimeout(r, 300))
    return w
  }

  get exists(): number {
    return this.count
  }

  /** Resolves with the time of the EXISTS push that makes the count reach `count`. */
  untilCount(count: number, timeoutMs: number): Promise<number> {
    if (this.count >= count) return Promise.resolve(performance.now())
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`IMAP IDLE: the INBOX count stayed at ${this.count}, expected ${count} within ${timeoutMs} ms`))
      }, timeoutMs)
      const waiter = {
        count,
        resolve: (at: number) => {
          clearTimeout(timer)
          resolve(at)
        },
      }
      this.waiters.push(waiter)
    })
  }

  /** First time a file appeared in the Maildir at or after `since`. */
  storedAfter(since: number): number | undefined {
    return this.stored.find((t) => t >= since)
  }

  async close(): Promise<void> {
    this.fsWatch?.close()
    await this.client.logout().catch(() => this.client.close())
  }
}

export interface LatencySample {
  /** MAIL FROM … the 250 after DATA, on an open connection. */
  submitMs: number
  /** The 250 after DATA → the IDLE EXISTS push. */
  pushMs: number
  /** The 250 → the message file appearing in the Maildir (negative: stored before the 250). */
  storedMs: number | undefined
}

/** Sequential: each message is sent only after the previous EXISTS arrived. */
export async function idleLatency(target: SubmissionTarget, from: string, to: string, watcher: IdleWatcher, n: number, warmup = 3): Promise<LatencySample[]> {
  const smtp = submitter(target)
  const samples: LatencySample[] = []
  try {
    for (let i = 0; i < n + warmup; i++) {
      const next = watcher.untilCount(watcher.exists + 1, 60_000)
      // If the send fails, its error is the one reported; this wait must not crash the run later.
      next.catch(() => undefined)
      const t0 = performance.now()
      await smtp.sendMail({ from, to, subject: `[...]`, text: chatSizedBody() })
      const t250 = performance.now()
      const tExists = await next
      const stored = watcher.storedAfter(t0)
      if (i >= warmup) samples.push({ submitMs: t250 - t0, pushMs: tExists - t250, storedMs: stored === undefined ? undefined : stored - t250 })
    }
  } finally {
    smtp.close()
  }
  return samples
}

export interface ThroughputResult {
  accepted: number
  rejected: number
  firstError: string | undefined
  seconds: number
  perSecond: number
  /** From the first MAIL FROM until Dovecot had all accepted messages in the INBOX. */
  deliveredSeconds: number | undefined
}

/**
 * `senders` connections at once, `total` messages split between them, counted at the 250.
 * `onStart` is called as the clock starts, after every connection's TLS, AUTH and first message.
 */
export async function throughput(target: SubmissionTarget, from: string, to: string, watcher: IdleWatcher, senders: number, total: number, onStart?: () => void): Promise<ThroughputResult> {
  const transports = Array.from({ length: senders }, () => submitter(target))
  // One message per connection before the clock starts: connect, TLS and AUTH are not what is measured.
  const before = watcher.exists
  await Promise.all(transports.map((t) => t.sendMail({ from, to, subject: `[...]`, text: chatSizedBody() })))
  await watcher.untilCount(before + senders, 60_000)
  const start = watcher.exists
  let accepted = 0
  let rejected = 0
  let firstError: string | undefined
  const perSender = Math.ceil(total / senders)
  onStart?.()
  const t0 = performance.now()
  try {
    await Promise.all(
      transports.map(async (t, s) => {
        for (let i = 0; i < perSender && s * perSender + i < total; i++) {
          try {
            await t.sendMail({ from, to, subject: `[...]`, text: chatSizedBody() })
            accepted++
          } catch (err) {
            rejected++
            firstError ??= (err as Error).message
          }
        }
      }),
    )
  } finally {
    for (const t of transports) t.close()
  }
  const seconds = (performance.now() - t0) / 1000
  let deliveredSeconds: number | undefined
  try {
    const at = await watcher.untilCount(start + accepted, 120_000)
    deliveredSeconds = (at - t0) / 1000
  } catch {
    deliveredSeconds = undefined
  }
  return { accepted, rejected, firstError, seconds, perSecond: accepted / seconds, deliveredSeconds }
}
