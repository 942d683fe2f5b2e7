// An LMTP client (RFC 2033) over a unix socket, for handing messages to
// Dovecot. Unlike SMTP, LMTP answers the final dot once per accepted
// recipient, so one transaction tells us exactly who has the message.
import { createConnection, type Socket } from 'node:net'
import { OutpostError } from '../base/errors.js'

export interface LmtpTarget {
  /** Dovecot's LMTP unix socket. */
  socketPath: string
  /** Our name in LHLO. */
  lhloName: string
  /** How long to wait for the connection and for each reply. */
  timeoutMs?: number
}

export interface LmtpEnvelope {
  sender: string
  recipients: readonly string[]
}

export interface LmtpRecipientResult {
  recipient: string
  code: number
  /** The RFC 3463 status such as "4.2.2", when the server sent one. */
  enhanced: string | null
  text: string
  /**
   * True when this is the answer to the message itself (after the final dot),
   * false for a refusal of MAIL, RCPT or DATA, before the message was sent.
   */
  afterData: boolean
}

/** The LMTP server could not be reached or broke the protocol: nothing is known to be delivered. */
export class LmtpError extends OutpostError {
  override name = 'LmtpError'
  /** True when the session broke after the message was sent: Dovecot may have stored it for some recipients. */
  afterData = false
}

export const DEFAULT_LMTP_TIMEOUT_MS = 30_000

interface Reply {
  code: number
  enhanced: string | null
  text: string
}

const REPLY_LINE = /^(\d{3})([ -])(.*)$/
const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)/

/** Reads whole (possibly multi-line) replies off the socket, one per call, each with a deadline. */
class ReplyReader {
  private buffer = ''
  private lines: string[] = []
  private readonly replies: Reply[] = []
  private failure: LmtpError | null = null
  private waiter: { resolve(r: Reply): void; reject(e: Error): void } | null = null

  constructor(
    private readonly socket: Socket,
    private readonly where: string,
    private readonly timeoutMs: number,
  ) {
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => this.onData(chunk))
    socket.on('error', (err) => this.fail(new LmtpError(`LMTP connection to ${where} failed: ${err.message}`)))
    socket.on('close', () => this.fail(new LmtpError(`LMTP server at ${where} closed the connection unexpectedly`)))
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    let nl: number
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '')
      this.buffer = this.buffer.slice(nl + 1)
      const m = REPLY_LINE.exec(line)
      if (!m) {
        this.fail(new LmtpError(`LMTP server at ${this.where} sent a malformed reply line: ${JSON.stringify(line.slice(0, 200))}`))
        return
      }
      this.lines.push(m[3]!)
      if (m[2] === ' ') {
        const code = Number(m[1])
        const first = ENHANCED.exec(this.lines[0] ?? '')
        const enhanced = first ? first[1]! : null
        const text = this.lines.map((l) => (enhanced ? l.replace(ENHANCED, '') : l)).join(' ').trim()
        this.lines = []
        this.push({ code, enhanced, text })
      }
    }
    if (this.buffer.length > 64 * 1024) this.fail(new LmtpError(`LMTP server at ${this.where} sent an over-long reply line`))
  }

  private push(r: Reply): void {
    if (this.waiter) {
      const w = this.waiter
      this.waiter = null
      w.resolve(r)
    } else this.replies.push(r)
  }

  private fail(err: LmtpError): void {
    if (this.failure) return
    this.failure = err
    this.socket.destroy()
    if (this.waiter) {
      const w = this.waiter
      this.waiter = null
      w.reject(err)
    }
  }

  /** Why the connection is no longer usable, once it is not. */
  get failed(): LmtpError | null {
    return this.failure
  }

  /** The next reply, as the answer to `step` (named in errors). */
  next(step: string): Promise<Reply> {
    const queued = this.replies.shift()
    if (queued) return Promise.resolve(queued)
    if (this.failure) return Promise.reject(this.failure)
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null
        this.fail(new LmtpError(`LMTP server at ${this.where} did not answer ${step} within ${this.timeoutMs / 1000} s`))
        reject(this.failure)
      }, this.timeoutMs)
      this.waiter = {
        resolve: (r) => {
          clearTimeout(timer)
          resolve(r)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      }
    })
  }
}

/**
 * The message as a DATA block: every line ending CRLF (bare LF and CR are
 * converted), a leading dot doubled (RFC 5321 4.5.2), and the final dot line.
 */
export function dataBlock(message: Buffer): Buffer {
  const parts: Buffer[] = []
  const CRLF = Buffer.from('\r\n')
  const DOT = Buffer.from('.')
  let start = 0
  while (start < message.length) {
    let end = start
    while (end < message.length && message[end] !== 0x0a && message[end] !== 0x0d) end++
    if (message[start] === 0x2e) parts.push(DOT)
    parts.push(message.subarray(start, end))
    parts.push(CRLF)
    if (end < message.length && message[end] === 0x0d && message[end + 1] === 0x0a) end++
    start = end + 1
  }
  parts.push(Buffer.from('.\r\n'))
  return Buffer.concat(parts)
}

function connect(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new LmtpError(`could not connect to the LMTP socket ${path} within ${timeoutMs / 1000} s`))
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve(socket)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const hint = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? ' (is Dovecot running?)' : ''
      reject(new LmtpError(`could not connect to the LMTP socket ${path}: ${err.message}${hint}`))
    })
  })
}

function angle(address: string): string {
  if (/[\r\n<>]/.test(address)) throw new LmtpError(`refusing to send the address ${JSON.stringify(address)} over LMTP`)
  return `<${address}>`
}

const is2xx = (r: Reply) => r.code >= 200 && r.code < 300

/**
 * LMTP sessions at once per socket, in one process; more wait here for a
 * free one. Dovecot starts one LMTP process (about 11 MB resident) per
 * session, up to its default limit of 100, so a burst of mail could fill a
 * small box's memory. Bounding it in Dovecot instead (process_limit) makes
 * the extra connections fail with EAGAIN once the socket's short queue is
 * full; here they only wait. Measured on two cores, 20 senders, 400
 * messages, three rounds: unbounded 93-128 msg/s with 20-22 LMTP processes
 * left; 8 sessions 89-124 msg/s with 10-11; 4 sessions about 100 msg/s.
 */
export const LMTP_SESSIONS = 8

const sessions = new Map<string, { busy: number; waiting: (() => void)[] }>()

async function takeSession(path: string): Promise<() => void> {
  let s = sessions.get(path)
  if (!s) sessions.set(path, (s = { busy: 0, waiting: [] }))
  const slot = s
  if (slot.busy >= LMTP_SESSIONS) await new Promise<void>((resolve) => slot.waiting.push(resolve))
  else slot.busy++
  // A waiter is handed the slot as it is: busy stays counted.
  return () => {
    const next = slot.waiting.shift()
    if (next) next()
    else slot.busy--
  }
}

/**
 * How long a session stays open after its message, for the next one. A
 * session per message paid the connect, the greeting, LHLO and QUIT (and
 * waited for Dovecot to let go) on every message: four of the six round
 * trips of a one-recipient delivery. Short, because Dovecot's LMTP process
 * (about 11 MB RSS on 2.3, 18 MB on 2.4) lives as long as its session
 * (service lmtp in server/dovecot/config.ts): after a burst they go within
 * a second.
 */
export const LMTP_IDLE_MS = 1000

const idleSessions = new Map<string, { session: LmtpSession; timer: NodeJS.Timeout }[]>()

function takeIdle(path: string): LmtpSession | undefined {
  const list = idleSessions.get(path)
  for (let idle = list?.pop(); idle; idle = list?.pop()) {
    clearTimeout(idle.timer)
    if (idle.session.usable) return idle.session.held()
    void idle.session.close()
  }
  return undefined
}

function keepIdle(path: string, session: LmtpSession): void {
  let list = idleSessions.get(path)
  if (!list) idleSessions.set(path, (list = []))
  const entry = {
    session: session.idle(),
    timer: setTimeout(() => {
      list.splice(list.indexOf(entry), 1)
      void session.close()
    }, LMTP_IDLE_MS).unref(),
  }
  list.push(entry)
}

/**
 * Delivers one message to every recipient over LMTP and returns one result
 * per recipient, in the order given: the RCPT reply for a refused recipient,
 * otherwise the recipient's own reply after the final dot. Throws LmtpError
 * when the server cannot be reached or the session breaks. At most
 * LMTP_SESSIONS run at once per socket; the rest wait their turn. A session
 * left open by an earlier message is used again (LMTP_IDLE_MS).
 */
export async function lmtpDeliver(target: LmtpTarget, envelope: LmtpEnvelope, message: Buffer): Promise<LmtpRecipientResult[]> {
  const release = await takeSession(target.socketPath)
  try {
    const reused = takeIdle(target.socketPath)
    let session = reused ?? (await LmtpSession.connect(target))
    let results: LmtpRecipientResult[]
    try {
      results = await session.deliver(envelope, message)
    } catch (err) {
      // An idle session the server has closed meanwhile fails before the
      // message went out: nothing was delivered, so a fresh session may try.
      if (!(reused && err instanceof LmtpError && !err.afterData)) throw err
      session = await LmtpSession.connect(target)
      try {
        results = await session.deliver(envelope, message)
      } catch (again) {
        await session.close()
        throw again
      }
    }
    if (session.usable) keepIdle(target.socketPath, session)
    else await session.close()
    return results
  } finally {
    release()
  }
}

/**
 * One LMTP connection that carries many transactions, one per message
 * (RFC 2033 4.1: after the replies to the final dot the server is ready for
 * the next MAIL FROM). Import hands a whole bundle to Dovecot this way: a
 * connection, an LHLO and a Dovecot process per message cost more than the
 * storing itself. Each transaction's answers are exactly what a session of
 * its own would give. When the server advertises PIPELINING (Dovecot does),
 * MAIL FROM, the RCPTs and DATA go out together (RFC 2920), one round trip
 * instead of two plus one per recipient.
 *
 * Counts as one of LMTP_SESSIONS while open; `close()` gives the slot back.
 */
export class LmtpSession {
  private broken: LmtpError | null = null

  private constructor(
    private readonly socket: Socket,
    private readonly reader: ReplyReader,
    private readonly where: string,
    private readonly pipelining: boolean,
    private readonly release: () => void,
  ) {}

  /** Opens a session and says LHLO; waits for a free slot first (LMTP_SESSIONS). */
  static async open(target: LmtpTarget): Promise<LmtpSession> {
    const release = await takeSession(target.socketPath)
    try {
      return await LmtpSession.connect(target, release)
    } catch (err) {
      release()
      throw err
    }
  }

  /** Opens a session outside the slot count (the caller holds a slot). */
  static async connect(target: LmtpTarget, release: () => void = () => undefined): Promise<LmtpSession> {
    const timeoutMs = target.timeoutMs ?? DEFAULT_LMTP_TIMEOUT_MS
    const where = target.socketPath
    const socket = await connect(where, timeoutMs)
    const reader = new ReplyReader(socket, where, timeoutMs)
    try {
      expect(where, await reader.next('the connection'), 'the connection', (r) => r.code === 220)
      socket.write(`LHLO ${target.lhloName}\r\n`, 'latin1')
      const lhlo = await reader.next('LHLO')
      expect(where, lhlo, 'LHLO', is2xx)
      return new LmtpSession(socket, reader, where, /\bPIPELINING\b/i.test(lhlo.text), release)
    } catch (err) {
      socket.destroy()
      throw err
    }
  }

  /** Waiting in the idle list: the open socket does not keep the process alive. */
  idle(): this {
    this.socket.unref()
    return this
  }

  /** Taken from the idle list for a message. */
  held(): this {
    this.socket.ref()
    return this
  }

  /** Whether the connection broke: nothing more can be sent on it. */
  get usable(): boolean {
    return this.broken === null && this.reader.failed === null && !this.socket.destroyed
  }

  /**
   * One transaction: one result per recipient, in the order given (the
   * RCPT reply for a refused recipient, otherwise its own reply after the
   * final dot). Throws LmtpError when the session breaks; `afterData` then
   * says whether the message had been sent.
   */
  async deliver(envelope: LmtpEnvelope, message: Buffer): Promise<LmtpRecipientResult[]> {
    if (this.broken) throw this.broken
    const { socket, reader } = this
    const send = (line: string) => socket.write(`${line}\r\n`, 'latin1')
    const result = (recipient: string, r: Reply, afterData = false): LmtpRecipientResult => ({ recipient, code: r.code, enhanced: r.enhanced, text: r.text, afterData })
    let afterData = false
    try {
      const mailLine = `MAIL FROM:${angle(envelope.sender)}`
      const rcptLines = envelope.recipients.map((rcpt) => `RCPT TO:${angle(rcpt)}`)
      const results = new Map<string, LmtpRecipientResult>()
      const accepted: string[] = []
      let data: Reply | undefined
      if (this.pipelining) {
        socket.write([mailLine, ...rcptLines, 'DATA', ''].join('\r\n'), 'latin1')
        const mail = await reader.next('MAIL FROM')
        for (const rcpt of envelope.recipients) {
          const r = await reader.next(`RCPT TO:<${rcpt}>`)
          if (!is2xx(mail)) results.set(rcpt, result(rcpt, mail))
          else if (is2xx(r)) accepted.push(rcpt)
          else results.set(rcpt, result(rcpt, r))
        }
        data = await reader.next('DATA')
        if (data.code === 354 && accepted.length === 0) {
          // A server that should have refused DATA with nobody to deliver
          // to: an empty message ends it, and its answer is of no interest.
          socket.write('.\r\n', 'latin1')
          await reader.next('the end of an empty message')
        }
      } else {
        send(mailLine)
        const mail = await reader.next('MAIL FROM')
        if (!is2xx(mail)) for (const rcpt of envelope.recipients) results.set(rcpt, result(rcpt, mail))
        else {
          for (const [i, rcpt] of envelope.recipients.entries()) {
            send(rcptLines[i]!)
            const r = await reader.next(`RCPT TO:<${rcpt}>`)
            if (is2xx(r)) accepted.push(rcpt)
            else results.set(rcpt, result(rcpt, r))
          }
          if (accepted.length > 0) {
            send('DATA')
            data = await reader.next('DATA')
          }
        }
      }
      if (accepted.length > 0 && data) {
        if (data.code !== 354) {
          for (const rcpt of accepted) results.set(rcpt, result(rcpt, data))
        } else {
          afterData = true
          socket.write(dataBlock(message))
          for (const rcpt of accepted) results.set(rcpt, result(rcpt, await reader.next(`the end of data for <${rcpt}>`), true))
          afterData = false
        }
      }
      // A transaction that ended without the final dot is still open on the
      // server (a MAIL FROM given, perhaps recipients): the next one starts clean.
      if (!(accepted.length > 0 && data?.code === 354)) {
        send('RSET')
        expect(this.where, await reader.next('RSET'), 'RSET', is2xx)
      }
      return envelope.recipients.map((rcpt) => results.get(rcpt)!)
    } catch (err) {
      if (err instanceof LmtpError) {
        err.afterData = afterData
        this.broken = err
      }
      this.socket.destroy()
      throw err
    }
  }

  /** QUIT, and wait (at most a second) until the server has let go, so its process is free for the next session. */
  async close(): Promise<void> {
    const socket = this.socket
    try {
      if (this.usable) socket.write('QUIT\r\n', 'latin1')
      socket.end()
      await new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve()
        const timer = setTimeout(() => {
          socket.destroy()
          resolve()
        }, 1000)
        timer.unref()
        socket.once('close', () => {
          clearTimeout(timer)
          resolve()
        })
      })
    } finally {
      this.release()
    }
  }
}

function expect(where: string, r: Reply, step: string, ok: (r: Reply) => boolean): void {
  if (!ok(r)) throw new LmtpError(`LMTP server at ${where} refused ${step}: ${r.code} ${r.enhanced ?? ''} ${r.text}`.replace(/\s+/g, ' '))
}
