// Where the time between MAIL FROM and the 250 goes, per message, for the
// benchmark (bench/run.ts part b). Off unless OUTPOST_ACCEPT_TRACE names a
// file; then each accepted message appends one JSON line of marks
// (milliseconds since the transaction's MAIL FROM reached our plugin).
// Off, it costs one property read per hook: acceptTrace() returns undefined
// and every caller skips its marks.
import { appendFile } from 'node:fs'
import { performance } from 'node:perf_hooks'

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

export class AcceptTrace {
  private lines: string[] = []
  private scheduled = false

  constructor(readonly file: string) {}

  /** A fresh trace for one transaction, started now (at MAIL FROM). */
  start(): MessageTrace {
    return new MessageTrace(this)
  }

  /** Queues one line; lines are appended in one write per turn of the event loop, off the hook's path. */
  write(marks: AcceptMarks): void {
    this.lines.push(JSON.stringify(marks))
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      const text = this.lines.join('\n') + '\n'
      this.lines = []
      appendFile(this.file, text, () => undefined)
    })
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
