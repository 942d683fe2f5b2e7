// The emulated box of the image tests: image/qemu-boot.sh run with its
// ports forwarded to this machine, qemu's monitor (QMP) to plug and pull USB
// sticks, and a root shell over SSH (the key given on the card, as an owner
// would) to look at what the box did.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createReadStream, readFileSync } from 'node:fs'
import { request } from 'node:https'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../helpers/ports.js'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version
/** The image `npm run image` builds, or OUTPOST_IMAGE. */
export const IMAGE = process.env.OUTPOST_IMAGE ?? join(REPO, `image/out/outpost-${VERSION}-arm64.img.xz`)
// An ANSI colour sequence: ESC [ parameters letter.
export const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g')

export interface Reply { status: number; body: string; cookie?: string }

/** An HTTPS request to the box's web API through a forwarded port (its certificate is its own). */
export function api(port: number, method: string, path: string, opts: { body?: unknown; cookie?: string; csrf?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body)
    const req = request({ host: '127.0.0.1', port, method, path, rejectUnauthorized: false, timeout: 30_000, headers: { ...(data ? { 'content-type': 'application/json' } : {}), ...(opts.cookie ? { cookie: opts.cookie } : {}), ...(opts.csrf ? { 'x-csrf-token': opts.csrf } : {}) } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cookie: res.headers['set-cookie']?.map((c) => c.split(';')[0]).join('; ') }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(data)
  })
}

/** The byte offset of a disk image's first partition, for mtools' IMAGE@@OFFSET. */
export function firstPartitionOffset(img: string): number {
  const start = Number(/1 : start=\s*(\d+)/.exec(execFileSync('sfdisk', ['-d', img], { encoding: 'utf8' }))?.[1])
  if (!Number.isInteger(start) || start <= 0) throw new Error(`no first partition in ${img}`)
  return start * 512
}

/**
 * qemu's machine protocol over its unix socket: one JSON object per line,
 * a reply for each command in order, and events in between.
 */
export class Qmp {
  #socket: Socket
  #buffer = ''
  #waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] = []
  readonly events: { event: string; data?: unknown }[] = []

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.setEncoding('utf8')
    // qemu gone (killed, or a power cut): nothing more will answer.
    socket.on('close', () => {
      for (const w of this.#waiting.splice(0)) w.reject(new Error('qmp: qemu closed its monitor'))
    })
    socket.on('error', () => undefined)
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk
      let nl
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl).trim()
        this.#buffer = this.#buffer.slice(nl + 1)
        if (!line) continue
        const msg = JSON.parse(line) as { QMP?: unknown; event?: string; data?: unknown; return?: unknown; error?: { desc: string } }
        if (msg.QMP) continue
        if (msg.event) this.events.push({ event: msg.event, data: msg.data })
        else {
          const w = this.#waiting.shift()
          if (msg.error) w?.reject(new Error(`qmp: ${msg.error.desc}`))
          else w?.resolve(msg.return)
        }
      }
    })
  }

  static async open(path: string, timeoutMs = 30_000): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        const s = await new Promise<Socket>((resolve, reject) => {
          const c = connect(path)
          c.once('connect', () => resolve(c))
          c.once('error', reject)
        })
        const q = new Qmp(s)
        try {
          await q.command('qmp_capabilities', undefined, 30_000)
        } catch (err) {
          q.close()
          throw err
        }
        return q
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`qemu's monitor did not open at ${path}: ${(err as Error).message}`, { cause: err })
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  }

  command(execute: string, args?: Record<string, unknown>, timeoutMs = 60_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) return reject(new Error(`qmp: ${execute}: the monitor is closed`))
      const timer = setTimeout(() => reject(new Error(`qmp: no answer to ${execute} within ${timeoutMs / 1000} s`)), timeoutMs)
      this.#waiting.push({ resolve: (v) => (clearTimeout(timer), resolve(v)), reject: (e) => (clearTimeout(timer), reject(e)) })
      this.#socket.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n')
    })
  }

  async waitForEvent(event: string, match: (data: unknown) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.events.some((e) => e.event === event && match(e.data))) {
      if (Date.now() > deadline) throw new Error(`qmp: no ${event} within ${timeoutMs / 1000} s`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  close(): void {
    this.#socket.destroy()
  }
}

export interface BootOptions {
  /** The card image, booted in place. */
  img: string
  /** The folder for the console log, the monitor's socket and the SSH key. */
  work: string
  /** Guest TCP ports to reach from here, by name. */
  forward: Record<string, number>
  radios?: number
}

/** One emulated box. Boot it, talk to it, cut its power. */
export class Machine {
  readonly ports: Record<string, number> = {}
  readonly sshKey: string
  readonly qmpPath: string
  consoleLog = ''
  qmp?: Qmp
  #qemu?: ChildProcess
  #sticks = 0

  constructor(readonly opts: BootOptions) {
    this.sshKey = join(opts.work, 'id_ed25519')
    this.qmpPath = join(opts.work, 'qmp.sock')
  }

  /** Makes the SSH key the card will name (call before writing the card). */
  makeSshKey(): string {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'appliance-test', '-f', this.sshKey])
    return readFileSync(`${this.sshKey}.pub`, 'utf8').trim()
  }

  async allocatePorts(): Promise<void> {
    for (const name of Object.keys(this.opts.forward)) this.ports[name] = await freePort()
  }

  /** Starts qemu and opens its monitor; returns when it was started. */
  async #powerOn(label: string): Promise<number> {
    this.consoleLog = join(this.opts.work, `${label.replace(/\W+/g, '-')}.log`)
    const args = [join(REPO, 'image/qemu-boot.sh'), this.opts.img, '--log', this.consoleLog, '--qmp', this.qmpPath, '--radios', String(this.opts.radios ?? 1)]
    for (const [name, guest] of Object.entries(this.opts.forward)) args.push('--forward', `${this.ports[name]}:${guest}`)
    const started = Date.now()
    // nice: software emulation takes every cycle it gets, on a shared machine.
    this.#qemu = spawn('nice', ['-n', '19', 'bash', ...args], { stdio: ['ignore', 'inherit', 'inherit'], detached: true })
    this.qmp = await Qmp.open(this.qmpPath, 120_000)
    return started
  }

  /**
   * Powers on and resolves as soon as the serial console shows `sign` (to
   * cut the power at that moment of the boot). Returns the seconds it took.
   */
  async powerOnUntil(label: string, sign: RegExp, timeoutMs: number): Promise<number> {
    const started = await this.#powerOn(label)
    for (;;) {
      if (!this.running()) throw new Error(`qemu ended (${this.#qemu!.exitCode ?? this.#qemu!.signalCode}) before the console showed ${sign}; console in ${this.consoleLog}`)
      if (sign.test(this.console())) break
      if (Date.now() - started > timeoutMs) throw new Error(`the console did not show ${sign} within ${timeoutMs / 60_000} min; console in ${this.consoleLog}`)
      await new Promise((res) => setTimeout(res, 200))
    }
    return Math.round((Date.now() - started) / 1000)
  }

  /** Powers on; resolves once /api/health answers. Returns the seconds it took. */
  async boot(label: string, timeoutMs: number): Promise<number> {
    const started = await this.#powerOn(label)
    for (;;) {
      if (!this.running()) throw new Error(`qemu ended (${this.#qemu!.exitCode ?? this.#qemu!.signalCode}) before the node answered; console in ${this.consoleLog}`)
      const r = this.ports.web ? await api(this.ports.web, 'GET', '/api/health').catch(() => undefined) : undefined
      if (r?.status === 200) break
      if (Date.now() - started > timeoutMs) throw new Error(`no /api/health within ${timeoutMs / 60_000} min; console in ${this.consoleLog}`)
      await new Promise((res) => setTimeout(res, 5000))
    }
    return Math.round((Date.now() - started) / 1000)
  }

  /** Whether qemu still runs (it has neither exited nor been killed by a signal). */
  running(): boolean {
    return this.#qemu !== undefined && this.#qemu.exitCode === null && this.#qemu.signalCode === null
  }

  /** The serial console so far, without systemd's colours. */
  console(): string {
    return readFileSync(this.consoleLog, 'utf8').replace(ANSI_COLOUR, '')
  }

  /** Runs a shell command as root on the box (SSH through the forwarded port). */
  ssh(command: string, timeoutMs = 5 * 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile('ssh', ['-i', this.sshKey, '-p', String(this.ports.ssh), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', 'root@127.0.0.1', command], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 255) : 0
        // Killed by the timeout: say so, or the caller sees only "exited 255".
        const late = err && (err as { killed?: boolean }).killed ? `ssh: no answer within ${timeoutMs / 1000} s (killed)\n` : ''
        resolve({ code, stdout, stderr: late + stderr })
      })
    })
  }

  /** Copies a file of this machine to `remote` on the box, through SSH's input (a command line holds at most 128 KiB). */
  copyTo(local: string, remote: string, timeoutMs = 5 * 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const ssh = spawn('ssh', ['-i', this.sshKey, '-p', String(this.ports.ssh), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', 'root@127.0.0.1', `cat >'${remote}'`], { stdio: ['pipe', 'ignore', 'pipe'] })
      let stderr = ''
      ssh.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c))
      const timer = setTimeout(() => ssh.kill('SIGKILL'), timeoutMs)
      ssh.on('error', reject)
      ssh.on('close', (code) => {
        clearTimeout(timer)
        if (code === 0) resolve()
        else reject(new Error(`copying ${local} to the box's ${remote} failed (${code ?? 'killed'}): ${stderr}`))
      })
      createReadStream(local).on('error', reject).pipe(ssh.stdin!)
    })
  }

  /** As ssh(), but a non-zero exit is an error naming the command. */
  async sshOk(command: string, timeoutMs?: number): Promise<string> {
    const r = await this.ssh(command, timeoutMs)
    if (r.code !== 0) throw new Error(`on the box, \`${command}\` exited ${r.code}: ${r.stderr || r.stdout}`)
    return r.stdout
  }

  /** Plugs a disk image into the USB port as a stick; returns its id for pull(). */
  async plug(diskImage: string): Promise<string> {
    const id = `stick${++this.#sticks}`
    await this.qmp!.command('blockdev-add', { 'node-name': id, driver: 'raw', file: { driver: 'file', filename: diskImage } })
    await this.qmp!.command('device_add', { driver: 'usb-storage', bus: 'xhci.0', drive: id, id, removable: true })
    return id
  }

  /** Pulls the stick out (the guest sees it go), and lets go of its file. */
  async pull(id: string): Promise<void> {
    await this.qmp!.command('device_del', { id })
    await this.qmp!.waitForEvent('DEVICE_DELETED', (d) => (d as { device?: string }).device === id, 60_000)
    await this.qmp!.command('blockdev-del', { 'node-name': id })
  }

  /** A power cut: the machine is killed, not shut down. */
  async powerCut(): Promise<void> {
    this.qmp?.close()
    this.qmp = undefined
    const q = this.#qemu
    if (!q || !this.running()) return
    const gone = new Promise((r) => q.once('exit', r))
    process.kill(-q.pid!, 'SIGKILL')
    await gone
  }
}
