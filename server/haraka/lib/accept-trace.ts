// Where the time between MAIL FROM and the 250 goes, per message, for the
// benchmark (bench/run.ts part b). Off unless OUTPOST_ACCEPT_TRACE names a
// file; then each accepted message appends one JSON line of marks
// (milliseconds since the transaction's MAIL FROM reached our plugin).
// Off, it costs one property read per hook: acceptTrace() returns undefined
// and every caller skips its marks.
import { appendFile } from 'node:fs'
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks'
import { batchPerTurn } from '../../base/turn-batch.js'

/** The steps of one message, in the order they happen. */
export const ACCEPT_STEPS = [
  /** The last mail hook (sender policy) is done. */
  'mailDone',
  /** The first rcpt hook starts: the client's RCPT TO has arrived. */
  'rcpt',
  /** The last rcpt hook (recipient policy) is done. */
  'rcptDone',
  /** The first data hook starts: the client's DATA has arrived. */
  'data',
  /** The first data_post hook starts: the body has arrived and Haraka has parsed it. */
  'body',
  /** The end of the data_post hooks (DKIM, author check). */
  'dataPost',
  /** Our queue hook starts. */
  'queueHook',
  /** The message is in one buffer. */
  'read',
  /** Disk floor, routing and outbox done. */
  'routed',
  /** The ledger's earlier rows for this key were read. */
  'ledgerRead',
  /** The 'pending' rows are committed (on disk). */
  'pending',
  /** Dovecot answered every recipient over LMTP. */
  'lmtp',
  /** The 'delivered' rows are written (or queued to be). */
  'delivered',
  /** next() was called: Haraka writes the 250. */
  'answered',
] as const
export type AcceptStep = (typeof ACCEPT_STEPS)[number]

export type AcceptMarks = Partial<Record<AcceptStep, number>>

/**
 * How late the event loop ran its timers (monitorEventLoopDelay, 1 ms
 * resolution) between two writes of the trace, in milliseconds: every
 * line written together carries the same figures. A synchronous fsync or a
 * long parse shows here as a stall of every session of the process.
 */
export interface LoopDelay {
  mean: number
  p99: number
  max: number
}

export type AcceptLine = AcceptMarks & { loop?: LoopDelay }

export class AcceptTrace {
  private readonly loopDelay: IntervalHistogram
  /** Lines are appended in one write per turn of the event loop, off the hook's path. */
  private readonly lines = batchPerTurn<AcceptMarks>((lines) => {
    const ms = (ns: number) => Math.round(ns / 1e3) / 1e3
    const h = this.loopDelay
    const loop: LoopDelay = { mean: ms(h.mean), p99: ms(h.percentile(99)), max: ms(h.max) }
    h.reset()
    appendFile(this.file, lines.map((m) => JSON.stringify({ ...m, loop })).join('\n') + '\n', () => undefined)
  })

  constructor(readonly file: string) {
    this.loopDelay = monitorEventLoopDelay({ resolution: 1 })
    this.loopDelay.enable()
  }

  /** A fresh trace for one transaction, started now (at MAIL FROM). */
  start(): MessageTrace {
    return new MessageTrace(this)
  }

  /** Queues one line for the next turn's write. */
  write(marks: AcceptMarks): void {
    this.lines.push(marks)
  }
}

export class MessageTrace {
  private readonly t0 = performance.now()
  readonly marks: AcceptMarks = {}

  constructor(private readonly sink: AcceptTrace) {}

  mark(step: AcceptStep): void {
    this.marks[step] = Math.round((performance.now() - this.t0) * 1000) / 1000
  }

  done(): void {
    this.mark('answered')
    this.sink.write(this.marks)
  }
}

let cached: AcceptTrace | null | undefined

/** The process's trace, or undefined when OUTPOST_ACCEPT_TRACE is not set. */
export function acceptTrace(): AcceptTrace | undefined {
  if (cached === undefined) cached = process.env.OUTPOST_ACCEPT_TRACE ? new AcceptTrace(process.env.OUTPOST_ACCEPT_TRACE) : null
  return cached ?? undefined
}

/** The event loop's delay over the messages of the trace file's lines: the mean of their means, the median of their p99s, the largest max. */
export function loopDelayOf(lines: readonly string[]): LoopDelay | undefined {
  const loops = lines.filter((l) => l.trim()).map((l) => (JSON.parse(l) as AcceptLine).loop).filter((l): l is LoopDelay => l !== undefined && Number.isFinite(l.mean))
  if (loops.length === 0) return undefined
  const p99s = loops.map((l) => l.p99).sort((a, b) => a - b)
  return {
    mean: loops.reduce((a, l) => a + l.mean, 0) / loops.length,
    p99: p99s[Math.floor(p99s.length / 2)]!,
    max: Math.max(...loops.map((l) => l.max)),
  }
}

/** Each step's own duration (from the step before it), per message, from the trace file's lines. */
export function stepDurations(lines: readonly string[]): Map<AcceptStep, number[]> {
  const out = new Map<AcceptStep, number[]>(ACCEPT_STEPS.map((s) => [s, []]))
  for (const line of lines) {
    if (!line.trim()) continue
    const marks = JSON.parse(line) as AcceptMarks
    let prev = 0
    for (const step of ACCEPT_STEPS) {
      const at = marks[step]
      if (at === undefined) continue
      out.get(step)!.push(at - prev)
      prev = at
    }
  }
  return out
}
