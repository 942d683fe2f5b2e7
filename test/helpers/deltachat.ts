// A "phone": one real Delta Chat core (deltachat-rpc-server 2.57) with one
// account, driven over JSON-RPC. Tests and benchmarks use it to talk to a node
// exactly the way the app does: configured from a dclogin: QR, SecureJoin,
// end-to-end encrypted chat.
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { createRequire } from 'node:module'
import { StdioDeltaChat, type DcEvent, type DcEventType, type T } from '@deltachat/jsonrpc-client'

export interface RecordedEvent<E extends DcEvent = DcEvent> {
  /** performance.now() when the event reached this process. */
  at: number
  event: E
}

export interface ReceivedMessage {
  at: number
  message: T.Message
}

const DEFAULT_TIMEOUT_MS = 60_000

/**
 * The deltachat-rpc-server binary of this machine's platform. The per-platform
 * packages are optional dependencies of the project (npm installs only the one
 * that fits), rather than through @deltachat/stdio-rpc-server, whose list of
 * platforms names builds the registry does not serve.
 */
export function rpcServerPath(): string {
  const pkg = `@deltachat/stdio-rpc-server-${process.platform}-${process.arch}`
  try {
    return createRequire(import.meta.url).resolve(pkg)
  } catch {
    throw new Error(`no Delta Chat core for ${process.platform}-${process.arch}: ${pkg} is not installed (npm ci installs it on linux x64 and arm64)`)
  }
}
const STDERR_LINES_KEPT = 40

type Server = ChildProcessByStdio<Writable, Readable, Readable>

export class Phone {
  /** Every event of this phone's account, in arrival order; wait functions scan it from a mark(). */
  readonly events: RecordedEvent[] = []
  private wakeups = new Set<() => void>()
  private stderrTail: string[] = []
  private exit: Promise<void>
  private exitedWith: string | undefined
  private closing = false
  private fetched = new Map<number, T.Message>()

  private constructor(
    readonly name: string,
    readonly dir: string,
    private server: Server,
    readonly dc: StdioDeltaChat,
    readonly accountId: number,
  ) {
    this.exit = new Promise((resolve) => {
      server.once('exit', (code, signal) => {
        this.exitedWith = signal ? `signal ${signal}` : `code ${code}`
        this.wake()
        resolve()
      })
    })
    dc.on('ALL', (account, event) => {
      if (account !== this.accountId) return
      this.events.push({ at: performance.now(), event })
      this.wake()
    })
  }

  /**
   * Starts a deltachat-rpc-server in a fresh temp dir (inside `opts.netns`
   * when given) and creates one empty account.
   *
   * The server is spawned here rather than through `startDeltaChat()` because that
   * helper keeps the child process to itself: its close() sends SIGTERM without
   * waiting, and its exit handler throws an uncaught error. A test must know the
   * process is gone before it says it cleaned up.
   */
  static async start(name: string, opts: { netns?: string } = {}): Promise<Phone> {
    const dir = await mkdtemp(join(tmpdir(), `outpost-phone-${name}-`))
    // In a network namespace, the phone sees that namespace's network only (`ip netns exec` execs the server in place).
    const [cmd, args] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, rpcServerPath()]] : [rpcServerPath(), []]
    const server = spawn(cmd, args, {
      env: { DC_ACCOUNTS_PATH: join(dir, 'accounts'), ...(process.env.RUST_LOG ? { RUST_LOG: process.env.RUST_LOG } : {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const dc = new StdioDeltaChat(server.stdin, server.stdout, true)
    // Kept so that a timeout can say what the core complained about.
    const tail: string[] = []
    server.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line) tail.push(line)
      tail.splice(0, Math.max(0, tail.length - STDERR_LINES_KEPT))
    })
    let phone: Phone | undefined
    // A request written after the server died must not crash the test run; it is reported through exitedWith.
    server.stdin.on('error', (err) => {
      if (!phone?.closing) tail.push(`stdin: ${err.message}`)
    })
    try {
      const accountId = await withTimeout(dc.rpc.addAccount(), 30_000, `${name}: deltachat-rpc-server did not answer add_account`)
      phone = new Phone(name, dir, server, dc, accountId)
      phone.stderrTail = tail
      await dc.rpc.setConfig(accountId, 'displayname', name)
      return phone
    } catch (err) {
      server.kill('SIGKILL')
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  get rpc() {
    return this.dc.rpc
  }

  /** Index into `events`: pass it to a wait function to ignore everything that happened before. */
  mark(): number {
    return this.events.length
  }

  /**
   * Configures the account from a dclogin: URI, the same call the app makes when
   * the QR code is scanned, and returns the address the core settled on.
   */
  async addAccountFromQr(uri: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const since = this.mark()
    try {
      await withTimeout(this.rpc.addTransportFromQr(this.accountId, uri), timeoutMs, `${this.name}: configuring from the dclogin: QR took over ${timeoutMs} ms`)
    } catch (err) {
      throw new Error(`${this.name}: Delta Chat could not configure from the dclogin: QR: ${errorText(err)}${this.context(since)}`, { cause: err })
    }
    await this.rpc.startIo(this.accountId)
    const addr = await this.rpc.getConfig(this.accountId, 'configured_addr')
    if (!addr) throw new Error(`${this.name}: configured, but the core reports no configured_addr${this.context(since)}`)
    // A freshly configured core ignores whatever is already in INBOX when its
    // inbox loop first looks, so a message sent to it before then (a SecureJoin
    // request, say) is never seen. The phone is ready once that loop idles.
    await this.waitFor('ImapInboxIdle', () => true, timeoutMs, since)
    return addr
  }

  async startIo(): Promise<void> {
    await this.rpc.startIo(this.accountId)
  }

  /** Disconnects from IMAP and SMTP; mail for this phone then stays on the server. */
  async stopIo(): Promise<void> {
    await this.rpc.stopIo(this.accountId)
  }

  async sendText(chatId: number, text: string): Promise<number> {
    return await this.rpc.miscSendTextMessage(this.accountId, chatId, text)
  }

  /**
   * Sends the file at `path` as an attachment (viewtype File, so the core
   * sends its bytes as they are instead of recoding an image), with `text`.
   */
  async sendFile(chatId: number, path: string, text: string): Promise<number> {
    return await this.rpc.sendMsg(this.accountId, chatId, { text, html: null, viewtype: 'File', file: path, filename: null, location: null, overrideSenderName: null, quotedMessageId: null, quotedText: null })
  }

  /** Resolves with the first event of `kind` at or after `since` that matches. */
  async waitFor<K extends DcEvent['kind']>(
    kind: K,
    match: (event: DcEventType<K>) => boolean = () => true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    since = 0,
  ): Promise<RecordedEvent<DcEventType<K>>> {
    const deadline = performance.now() + timeoutMs
    for (let i = since; ; ) {
      for (; i < this.events.length; i++) {
        const rec = this.events[i]!
        if (rec.event.kind === kind && match(rec.event as DcEventType<K>)) return rec as RecordedEvent<DcEventType<K>>
      }
      await this.nextEvent(deadline, () => `${this.name}: no ${kind} within ${timeoutMs} ms${this.context(since)}`)
    }
  }

  /** Resolves with the first incoming message at or after `since` that matches, loaded with get_message. */
  async waitForIncoming(match: (msg: T.Message) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS, since = 0): Promise<ReceivedMessage> {
    const deadline = performance.now() + timeoutMs
    for (let i = since; ; ) {
      for (; i < this.events.length; i++) {
        const rec = this.events[i]!
        if (rec.event.kind !== 'IncomingMsg') continue
        const message = await this.message(rec.event.msgId)
        if (match(message)) return { at: rec.at, message }
      }
      await this.nextEvent(deadline, () => `${this.name}: no matching incoming message within ${timeoutMs} ms${this.context(since)}`)
    }
  }

  /** Stops the core and waits until its process is gone; the temp dir goes with it. */
  async close(): Promise<void> {
    if (this.closing) return this.exit
    this.closing = true
    if (this.exitedWith === undefined) {
      // Stopping IO first lets the core log out of IMAP instead of dropping the connections.
      await withTimeout(this.rpc.stopIoForAllAccounts(), 5_000, 'stop_io').catch(() => undefined)
      this.server.stdin.end()
      if (!(await exitsWithin(this.exit, 3_000))) {
        this.server.kill('SIGTERM')
        if (!(await exitsWithin(this.exit, 3_000))) this.server.kill('SIGKILL')
      }
      await this.exit
    }
    await rm(this.dir, { recursive: true, force: true })
  }

  private async message(msgId: number): Promise<T.Message> {
    let m = this.fetched.get(msgId)
    if (!m) {
      m = await this.rpc.getMessage(this.accountId, msgId)
      this.fetched.set(msgId, m)
    }
    return m
  }

  private wake(): void {
    const all = [...this.wakeups]
    this.wakeups.clear()
    for (const w of all) w()
  }

  private nextEvent(deadline: number, describe: () => string): Promise<void> {
    if (this.exitedWith !== undefined) {
      return Promise.reject(new Error(`${this.name}: deltachat-rpc-server exited (${this.exitedWith})${this.context(this.events.length)}`))
    }
    const left = deadline - performance.now()
    if (left <= 0) return Promise.reject(new Error(describe()))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wakeups.delete(wake)
        reject(new Error(describe()))
      }, left)
      const wake = () => {
        clearTimeout(timer)
        resolve()
      }
      this.wakeups.add(wake)
    })
  }

  /** The core's own complaints since `since`, for error messages a person can act on. */
  private context(since: number): string {
    const complaints = this.events
      .slice(since)
      .filter(
        (r) =>
          r.event.kind === 'Error' ||
          r.event.kind === 'Warning' ||
          r.event.kind === 'ConfigureProgress' ||
          // The server's SMTP or IMAP answer on a failure is only logged at Info level.
          (r.event.kind === 'Info' && /fail|error|reject|denied|\b[45]\d\d\b/i.test(r.event.msg)),
      )
      .slice(-8)
      .map((r) => `  ${r.event.kind}: ${'msg' in r.event ? r.event.msg : 'comment' in r.event ? (r.event.comment ?? r.event.progress) : ''}`)
    const stderr = this.stderrTail.slice(-5).map((l) => `  stderr: ${l}`)
    const lines = [...complaints, ...stderr]
    return lines.length ? `\n${lines.join('\n')}` : ''
  }
}

export interface JoinedChat {
  inviterChatId: number
  joinerChatId: number
}

/**
 * Runs the SecureJoin setup-contact protocol: the joiner "scans" the inviter's
 * QR code. Done when the joiner reports progress 1000 (vc-contact-confirm
 * received), at which point both sides hold a verified, encrypted 1:1 chat.
 */
export async function secureJoin(inviter: Phone, joiner: Phone, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<JoinedChat> {
  const qr = await inviter.rpc.getChatSecurejoinQrCode(inviter.accountId, null)
  const inviterSince = inviter.mark()
  const joinerSince = joiner.mark()
  const joinerChatId = await joiner.rpc.secureJoin(joiner.accountId, qr)
  await joiner.waitFor('SecurejoinJoinerProgress', (e) => e.progress === 1000, timeoutMs, joinerSince)
  const invited = await inviter.waitFor('SecurejoinInviterProgress', (e) => e.progress === 1000, timeoutMs, inviterSince)
  let inviterChatId = invited.event.chatId
  if (!inviterChatId) inviterChatId = (await inviter.rpc.getChatIdByContactId(inviter.accountId, invited.event.contactId)) ?? 0
  if (!inviterChatId) throw new Error(`${inviter.name}: SecureJoin finished but there is no chat with ${joiner.name}`)
  return { inviterChatId, joinerChatId }
}

function withTimeout<V>(p: Promise<V>, ms: number, what: string): Promise<V> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(what)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

async function exitsWithin(exit: Promise<void>, ms: number): Promise<boolean> {
  return await withTimeout(exit.then(() => true), ms, 'exit').catch(() => false)
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message)
  return String(err)
}
