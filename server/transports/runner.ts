// Running a transport once: a lock so that runs never overlap (the CLI's
// `transport run` and the scheduler in `outpost start` are two processes),
// a row per run, and errors kept as values a person can read.
import { RunLockBusyError, takeRunLock } from '../base/run-lock.js'
import type { NodeContext } from '../context/context.js'
import type { Exchange } from '../exchange/exchange.js'
import type { Progress } from '../exchange/run.js'
import type { OutpostEvents } from '../events/types.js'
import type { Exec } from '../base/exec.js'
import { driverFor } from './registry.js'
import type { TransportService } from './service.js'
import { linkWidth, withoutLinkKeys, type RunReport } from './transport.js'
import { countHeld } from '../outbox/queue-query.js'
import { recordSafely, type EventRecorder } from '../events/record.js'
import { OutpostError } from '../base/errors.js'
import { hopMark } from '../base/hop-trace.js'

export class TransportBusyError extends OutpostError {
  override name = 'TransportBusyError'
}

/** Takes the run lock of a transport (run/transport-ID.lock); a lock whose holder died is taken over. */
function lock(runDir: string, id: number): () => void {
  try {
    return takeRunLock(runDir, `transport-${id}`, `transport ${id}`)
  } catch (err) {
    if (err instanceof RunLockBusyError) throw new TransportBusyError(err.message)
    throw err
  }
}

export interface RunnerContext {
  node: NodeContext
  exchange: Exchange
  service: TransportService
  exec: Exec
  log(line: string): void
  /**
   * Where the run reports `transport.run` (start, progress, done, error);
   * by default the exchange's. In `outpost start` it is the log wired to the
   * web admin's live bus, so progress reaches the page as it happens.
   */
  events?: EventRecorder
}

export async function runTransport(ctx: RunnerContext, id: number, progress?: Progress): Promise<RunReport> {
  const t = ctx.service.get(id)
  if (!t) throw new Error(`no transport with id ${id}`)
  const driver = driverFor(t.kind)
  if (!driver) throw new Error(`transport ${id} is of kind "${t.kind}", which this version of Outpost does not know`)
  const release = lock(ctx.node.paths.run, id)
  const runId = ctx.service.startRun(id)
  const events = ctx.events ?? ctx.exchange.events
  const report = (data: Pick<OutpostEvents['transport.run'], 'phase' | 'done' | 'total' | 'error'>) =>
    recordSafely(events, 'transport.run', { transportId: id, peer: t.peer, kind: t.kind, ...data }, ctx.log)
  report({ phase: 'start' })
  hopMark('run.started')
  const onProgress: Progress = (done, total, what) => {
    progress?.(done, total, what)
    report({ phase: 'progress', done, total })
  }
  try {
    const link = linkWidth(driver, t.config)
    const r = await driver.run({ node: ctx.node, exchange: ctx.exchange, peer: t.peer, transportId: id, exec: ctx.exec, log: ctx.log, progress: onProgress, link }, driver.parseConfig(withoutLinkKeys(t.config)))
    // A narrow carrier says what it left for a wider one, so a run's line
    // never hides a photo that waits (outpost queue says for which carrier).
    const held = countHeld(ctx.node.db, t.peer, link)
    if (held) r.detail += `; ${held} message${held === 1 ? '' : 's'} over ${Math.round(link.maxMessageBytes / 1024)} KiB held for a wider carrier (outpost queue --peer ${t.peer})`
    ctx.service.finishRun(runId, { ok: true, bytesOut: r.sentBytes, bytesIn: r.receivedBytes, detail: r.detail })
    ctx.log(`transport ${id} (${t.kind} → ${t.peer}): ${r.detail}`)
    report({ phase: 'done', done: r.sentBundles + r.receivedBundles, total: r.sentBundles + r.receivedBundles })
    return r
  } catch (err) {
    const message = (err as Error).message
    ctx.service.finishRun(runId, { ok: false, error: message })
    ctx.log(`transport ${id} (${t.kind} → ${t.peer}) failed: ${message}`)
    report({ phase: 'error', error: message })
    throw err
  } finally {
    release()
    hopMark('run.done')
  }
}
