// Runs the node's daemons (Haraka, Dovecot) as children: restarts one that
// dies, logs why, and stops them all on the way out.
//
// Children are started through `setpriv --pdeathsig SIGTERM`, so the kernel
// sends them SIGTERM when this process dies, even by kill -9: no orphan keeps
// a port or a mailbox lock after the node is gone.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { join } from 'node:path'

export interface ChildSpec {
  name: string
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
  /** Adds an IPC channel as fd 3; a child can watch it to notice our death. */
  ipc?: boolean
  /** Runs after every exit of the child, to clean up what it left behind. */
  afterExit?: () => void
  /** Runs after every start of the child (the first and each restart), to prepare what its clients need. */
  afterStart?: () => void
}

interface Running {
  spec: ChildSpec
  proc?: ChildProcess
  restarts: number
  startedAt: number
  timer?: NodeJS.Timeout
  /** Set by restart(): the next exit is asked for, and runs this before starting again. */
  restarting?: () => void
}

const MAX_BACKOFF_MS = 30_000

export class Supervisor extends EventEmitter {
  private readonly children = new Map<string, Running>()
  private stopping = false

  constructor(private readonly logDir: string, private readonly log: (line: string) => void) {
    super()
    mkdirSync(logDir, { recursive: true })
  }

  start(spec: ChildSpec): void {
    const r: Running = { spec, restarts: 0, startedAt: 0 }
    this.children.set(spec.name, r)
    this.launch(r)
  }

  pid(name: string): number | undefined {
    return this.children.get(name)?.proc?.pid
  }

  private launch(r: Running): void {
    const { spec } = r
    const out: WriteStream = createWriteStream(join(this.logDir, `${spec.name}.out.log`), { flags: 'a' })
    const stdio: StdioOptions = ['ignore', 'pipe', 'pipe']
    if (spec.ipc) stdio.push('ipc')
    const proc = spawn('setpriv', ['--pdeathsig', 'SIGTERM', spec.command, ...spec.args], { stdio, env: spec.env ?? process.env })
    r.proc = proc
    r.startedAt = Date.now()
    proc.stdout?.pipe(out)
    proc.stderr?.pipe(out)
    // A full disk must not end the node: an unhandled error here killed it
    // (and with it SMTP, IMAP and the web admin). The child's output is then
    // drained and dropped, so the child never blocks on a full pipe.
    out.on('error', (err) => {
      this.log(`${spec.name}: its log ${out.path.toString()} cannot be written (${err.message}); its output is dropped until it restarts. Free space on the data dir.`)
      for (const s of [proc.stdout, proc.stderr]) {
        s?.unpipe(out)
        s?.resume()
      }
    })
    proc.on('error', (err) => this.log(`${spec.name}: could not start: ${err.message}`))
    try {
      spec.afterStart?.()
    } catch (err) {
      this.log(`${spec.name}: preparing after its start failed: ${(err as Error).message}`)
    }
    proc.on('exit', (code, signal) => {
      r.proc = undefined
      try {
        spec.afterExit?.()
      } catch (err) {
        this.log(`${spec.name}: cleaning up after exit failed: ${(err as Error).message}`)
      }
      if (this.stopping) return
      if (r.restarting) {
        const before = r.restarting
        r.restarting = undefined
        this.relaunch(r, before)
        return
      }
      // A child that ran for a while gets a quick restart; one that keeps
      // dying at start-up backs off so the log does not fill the disk.
      if (Date.now() - r.startedAt > 60_000) r.restarts = 0
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** r.restarts)
      r.restarts++
      this.log(`${spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms. Its output is in ${join(this.logDir, `${spec.name}.out.log`)}`)
      this.emit('exit', spec.name, code, signal)
      r.timer = setTimeout(() => this.launch(r), delay)
    })
  }

  /**
   * Stops a child with SIGTERM (it finishes what it has in hand) and starts
   * it again at once, running `before` in between (to rewrite its config).
   * A child waiting out its back-off just gets `before` and starts now.
   */
  restart(name: string, before: () => void = () => undefined, timeoutMs = 30_000): void {
    const r = this.children.get(name)
    if (!r || this.stopping) return
    const p = r.proc
    if (!p) {
      if (r.timer) clearTimeout(r.timer)
      this.relaunch(r, before)
      return
    }
    r.restarting = before
    const kill = setTimeout(() => {
      this.log(`${name} did not stop within ${timeoutMs} ms for its restart; killing it`)
      p.kill('SIGKILL')
    }, timeoutMs)
    p.once('exit', () => clearTimeout(kill))
    p.kill('SIGTERM')
  }

  /** Runs `before` (a failure is logged, the child starts anyway) and starts the child at once. */
  private relaunch(r: Running, before: () => void): void {
    try {
      before()
    } catch (err) {
      this.log(`${r.spec.name}: preparing its restart failed: ${(err as Error).message}`)
    }
    this.log(`${r.spec.name} restarted`)
    this.launch(r)
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true
    const waits: Promise<void>[] = []
    for (const r of this.children.values()) {
      if (r.timer) clearTimeout(r.timer)
      const p = r.proc
      if (!p || p.exitCode !== null || p.signalCode !== null) continue
      waits.push(
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => {
            this.log(`${r.spec.name} did not stop within ${timeoutMs} ms; killing it`)
            p.kill('SIGKILL')
          }, timeoutMs)
          p.once('exit', () => {
            clearTimeout(kill)
            resolve()
          })
          p.kill('SIGTERM')
        }),
      )
    }
    await Promise.all(waits)
  }
}
