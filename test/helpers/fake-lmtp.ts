// A small LMTP server on a unix socket for tests: it records what it was
// sent (dot-stuffing removed) and answers each recipient as told.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb, type Db } from '../../server/db/index.js'

export interface ReceivedMessage {
  sender: string
  recipients: string[]
  /** The DATA block as sent on the wire (still dot-stuffed, without the final dot line). */
  wire: string
  /** The message after removing dot-stuffing. */
  data: string
}

export interface FakeLmtpOptions {
  /** Reply to RCPT TO for this recipient; default 250. */
  rcptReply?: (rcpt: string) => string
  /** Reply after the final dot for this accepted recipient; default 250; null stores nothing. */
  dataReply?: (rcpt: string) => string
  /**
   * Dies (drops the connection, stores nothing, answers nothing) when the
   * final dot of the Nth message it was sent arrives, counted from 1 over
   * all sessions: Dovecot stopped in the middle of a delivery.
   */
  hangUpAt?: number
  /**
   * Keep what was sent in `received` and `stored` (the default). A benchmark
   * that sends 100,000 messages turns it off: only `count` grows, so the
   * fake's own memory (and the garbage collector's work on it) stays out of
   * the figure it measures.
   */
  keep?: boolean
}

export class FakeLmtp {
  readonly received: ReceivedMessage[] = []
  /** Recipients that got a 2xx after the final dot, one entry per stored copy. */
  readonly stored: { recipient: string; data: string }[] = []
  /** Connections accepted so far. */
  sessions = 0
  /** Messages whose final dot arrived (and were answered), kept or not. */
  count = 0
  private messages = 0
  private readonly server: Server
  private readonly sockets = new Set<Socket>()

  constructor(
    readonly path: string,
    private readonly opts: FakeLmtpOptions = {},
  ) {
    this.server = createServer((s) => this.session(s))
  }

  listen(): Promise<this> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.path, () => resolve(this))
    })
  }

  /** Drops every open connection and goes on listening, as Dovecot ending an idle session's process. */
  hangUpAll(): Promise<void> {
    const closing = [...this.sockets].map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))))
    for (const s of this.sockets) s.destroy()
    return Promise.all(closing).then(() => undefined)
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  private session(socket: Socket): void {
    this.sockets.add(socket)
    this.sessions++
    socket.on('close', () => this.sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.setEncoding('latin1')
    const say = (line: string) => socket.write(`${line}\r\n`)
    let buffer = ''
    let sender = ''
    let accepted: string[] = []
    let inData = false
    let wire: string[] = []
    say('220 fake LMTP ready')
    socket.on('data', (chunk: string) => {
      buffer += chunk
      let nl: number
      while ((nl = buffer.indexOf('\r\n')) !== -1) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 2)
        if (inData) {
          if (line === '.') {
            inData = false
            if (++this.messages === this.opts.hangUpAt) {
              socket.destroy()
              return
            }
            this.count++
            const keep = this.opts.keep ?? true
            const data = keep ? wire.map((l) => `${l.startsWith('.') ? l.slice(1) : l}\r\n`).join('') : ''
            if (keep) this.received.push({ sender, recipients: [...accepted], wire: wire.map((l) => `${l}\r\n`).join(''), data })
            for (const rcpt of accepted) {
              const reply = this.opts.dataReply?.(rcpt) ?? '250 2.0.0 <x> Saved'
              if (keep && reply.startsWith('2')) this.stored.push({ recipient: rcpt, data })
              say(reply)
            }
            accepted = []
            wire = []
          } else wire.push(line)
          continue
        }
        const cmd = line.toUpperCase()
        if (cmd.startsWith('LHLO')) {
          say('250-fake')
          say('250 PIPELINING')
        } else if (cmd.startsWith('MAIL FROM:')) {
          sender = line.slice(10).replace(/^<|>$/g, '')
          accepted = []
          say('250 2.1.0 OK')
        } else if (cmd.startsWith('RCPT TO:')) {
          const rcpt = line.slice(8).replace(/^<|>$/g, '')
          const reply = this.opts.rcptReply?.(rcpt) ?? '250 2.1.5 OK'
          if (reply.startsWith('2')) accepted.push(rcpt)
          say(reply)
        } else if (cmd === 'DATA') {
          // As Dovecot answers a pipelined DATA after every RCPT was refused.
          if (accepted.length === 0) say('554 5.5.0 No valid recipients')
          else {
            inData = true
            say('354 OK')
          }
        } else if (cmd === 'QUIT') {
          say('221 2.0.0 Bye')
          socket.end()
        } else if (cmd === 'RSET') say('250 2.0.0 OK')
        else say('500 5.5.1 Unknown command')
      }
    })
  }
}

/**
 * A node database and a fake Dovecot LMTP socket in a temporary folder, both
 * closed and removed after the test: the set-up of the delivery tests.
 */
export function deliverySetup(t: { after(fn: () => unknown): void }, prefix: string, dataReply?: (rcpt: string) => string): { db: Db; lmtp: FakeLmtp; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const db = openDb(join(dir, 'outpost.db'))
  const lmtp = new FakeLmtp(join(dir, 'lmtp'), { dataReply })
  t.after(async () => {
    await lmtp.close()
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { db, lmtp, dir }
}
