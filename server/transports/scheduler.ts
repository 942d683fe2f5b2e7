// Runs each enabled transport on its schedule inside `outpost start`, with
// node-cron. A transport whose schedule is `event` runs as soon as mail or
// acks wait for its peer (the LAN case: no waiting for a tick). A failing
// transport backs off: after n failures in a row it skips ticks for
// 2^n minutes, at most an hour.
import cron, { type ScheduledTask } from 'node-cron'
import { mkdirSync, watch, type FSWatcher } from 'node:fs'
import { EVENT_SCHEDULE, type TransportInfo, type TransportService } from './service.js'
import { runTransport, TransportBusyError, type RunnerContext } from './runner.js'
import { TransportConfigError, linkWidth } from './transport.js'
import { driverFor } from './registry.js'
import { WIDE, type LinkWidth } from '../outbox/link-width.js'
import { hopMark } from '../base/hop-trace.js'
import { WORK_SIGNAL } from '../outbox/outbox.js'

const RELOAD_MS = 15_000
const EVENT_POLL_MS = 500
const MAX_BACKOFF_MS = 60 * 60 * 1000

function widthOf(t: TransportInfo): LinkWidth {
  const driver = driverFor(t.kind)
  try {
    return driver ? linkWidth(driver, t.config) : WIDE
  } catch {
    return WIDE
  }
}

export class TransportScheduler {
  private tasks = new Map<number, { key: string; task?: ScheduledTask }>()
  private running = new Set<number>()
  /** Event transports that were woken while they ran (see pollEvents). */
  private lookAgain = new Set<number>()
  private stopped = false
  private timers: NodeJS.Timeout[] = []
  private watcher: FSWatcher | undefined

  private readonly pollMs: number
  private readonly run: (ctx: RunnerContext, id: number) => Promise<unknown>

  constructor(
    private readonly ctx: RunnerContext,
    private readonly service: TransportService,
    private readonly spoolDir?: string,
    /** For tests: the poll's period, and what running a transport does (runTransport). */
    opts: { pollMs?: number; run?: (ctx: RunnerContext, id: number) => Promise<unknown> } = {},
  ) {
    this.pollMs = opts.pollMs ?? EVENT_POLL_MS
    this.run = opts.run ?? runTransport
  }

  start(): void {
    this.reload()
    // Transports are added by the CLI in another process; pick them up.
    this.timers.push(setInterval(() => this.reload(), RELOAD_MS))
    this.timers.push(setInterval(() => this.pollEvents('poll'), this.pollMs))
    // Haraka writes each message for a peer into the spool before its 250,
    // then commits its outbox rows, then rewrites the spool's work signal
    // (outbox.ts, WORK_SIGNAL); import does the same for the acks it owes.
    // Watching the folder starts an `event` transport at once instead of at
    // the next poll: the signal is the change that comes after the commit,
    // when export can see the work (the poll stays for a missed signal, and
    // for work that comes with none: mail whose resend time has come).
    if (this.spoolDir) {
      try {
        mkdirSync(this.spoolDir, { recursive: true })
        this.watcher = watch(this.spoolDir, (_event, name) => {
          hopMark('scheduler.watch', name ?? undefined)
          // The message files' own changes come before their rows: looking
          // then finds nothing. (No name: a platform that does not say.)
          if (name === null || name === WORK_SIGNAL) this.pollEvents('signal')
        })
        this.watcher.on('error', () => undefined)
      } catch {
        // No inotify: the poll alone still runs the transports.
      }
    }
  }

  stop(): void {
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    this.watcher?.close()
    for (const { task } of this.tasks.values()) void task?.stop()
    this.tasks.clear()
  }

  private reload(): void {
    const current = new Map(this.service.list().filter((t) => t.enabled).map((t) => [t.id, t]))
    for (const [id, entry] of this.tasks) {
      const t = current.get(id)
      if (!t || `${t.schedule}` !== entry.key) {
        void entry.task?.stop()
        this.tasks.delete(id)
      }
    }
    for (const t of current.values()) {
      if (this.tasks.has(t.id)) continue
      const task = t.schedule === EVENT_SCHEDULE ? undefined : cron.schedule(t.schedule, () => this.tick(t), { noOverlap: true, name: `transport-${t.id}` })
      this.tasks.set(t.id, { key: t.schedule, task })
    }
  }

  private pollEvents(woken: string): void {
    if (this.stopped) return
    let waiting: Set<string> | undefined
    for (const t of this.service.list()) {
      if (!t.enabled || t.schedule !== EVENT_SCHEDULE) continue
      if (this.running.has(t.id)) {
        // Mail that came while the run was sealing is not in its bundles:
        // look again as soon as it ends, not at the next poll.
        if (woken !== 'poll') this.lookAgain.add(t.id)
        continue
      }
      waiting ??= new Set(this.ctx.exchange.peersWithUnsentWork())
      if (!waiting.has(t.peer)) continue
      // A narrow carrier runs only for what it takes: a photo it holds for a
      // wider carrier would otherwise start it at every poll.
      const link = widthOf(t)
      if (link.narrow && !this.ctx.exchange.hasUnsentWorkFor(t.peer, link)) continue
      hopMark('scheduler.due', woken)
      void this.tick(t)
    }
  }

  /**
   * Runs a peer's transports (of one kind, or all) now: a trusted peer just
   * appeared on the LAN, or the uplink to the gateway came up. That is fresh evidence it can be reached, so the backoff from
   * earlier failures (when it was away) does not hold this run back.
   */
  runPeer(peer: string, kind?: string): void {
    for (const t of this.service.list(peer)) if (t.enabled && (kind === undefined || t.kind === kind)) void this.tick(t, { force: true })
  }

  /**
   * Runs one transport now, whatever its schedule and backoff say: a person
   * asked for it (the web admin's "run now"). Resolves when the run is over;
   * how it went is in the runs table and the `transport.run` events.
   */
  runNow(id: number): Promise<void> {
    const t = this.service.get(id)
    if (!t) return Promise.reject(new TransportConfigError(`no transport with id ${id}`))
    return this.tick(t, { force: true })
  }

  /** Whether this process is running the transport right now. */
  isRunning(id: number): boolean {
    return this.running.has(id)
  }

  private backoffUntil(t: TransportInfo): number {
    const n = this.service.failuresInARow(t.id)
    if (n === 0) return 0
    const last = this.service.runs(t.id, 1)[0]
    return (last?.finishedAt ?? 0) + Math.min(MAX_BACKOFF_MS, 60_000 * 2 ** (n - 1))
  }

  async tick(t: TransportInfo, opts: { force?: boolean } = {}): Promise<void> {
    if (this.running.has(t.id)) return
    if (!opts.force && Date.now() < this.backoffUntil(t)) return
    this.running.add(t.id)
    try {
      await this.run(this.ctx, t.id)
    } catch (err) {
      if (!(err instanceof TransportBusyError)) {
        // Already logged and recorded by runTransport; the next tick retries after the backoff.
      }
    } finally {
      this.running.delete(t.id)
      if (this.lookAgain.delete(t.id)) this.pollEvents('after-run')
    }
  }
}
