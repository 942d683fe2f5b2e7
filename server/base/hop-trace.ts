// Where the time of one hop between nodes goes (outbox → transport → the
// peer's import), for the benchmark (bench/lan.ts, part e). Off unless
// OUTPOST_HOP_TRACE names a file; then every process of the node (Haraka,
// `outpost start`, a CLI run) appends one JSON line per step it passes:
// `{"t": wall-clock ms with microseconds, "s": step, "d": detail}`. The
// times are comparable between processes and between two nodes on one
// machine, so a bench can lay both nodes' files on one time line.
// Off, a mark costs one comparison: nothing is built, timed or written.
import { appendFile } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { batchPerTurn } from './turn-batch.js'

/** The steps, in the order one message passes them (sender first, then the receiving node). */
export const HOP_STEPS = [
  // On the sending node.
  /** The message's file is in the spool (tmp → fsync → rename → fsync dir). */
  'outbox.spooled',
  /** Its outbox rows are committed: export can see it now. */
  'outbox.committed',
  /** The scheduler's watch on the spool saw a change (detail: the file name). */
  'scheduler.watch',
  /** The scheduler found work for an `event` transport (detail: what woke it: `signal`, the spool's work signal; `poll`; `after-run`, work that came during the run before). */
  'scheduler.due',
  /** The transport's run lock is taken and its run recorded. */
  'run.started',
  /** Export has chosen the messages of the bundle. */
  'export.chosen',
  /** The bundle is sealed: compressed, encrypted, signed (detail: kind and messages). */
  'export.sealed',
  /** The POST has a socket (detail: `new` or `reused`). */
  'http.socket',
  /** The TCP connection is up (not marked on a reused socket). */
  'http.connected',
  /** The TLS handshake is done and the peer's key checked (not marked on a reused socket). */
  'http.tls',
  /** The whole request is written. */
  'http.sent',
  /** The peer's answer came (status line and headers). */
  'http.answered',
  /** The bundle's messages count as handed over (their rows updated). */
  'export.settled',
  /** The run is recorded as done and its lock released. */
  'run.done',
  // On the receiving node.
  /** A peer request's headers arrived and were checked. */
  'peer.request',
  /** Its body is in the upload file and hashed. */
  'peer.received',
  /** The request's signature over the body checks out. */
  'peer.verified',
  /** The bundle's turn to import has come (imports run one at a time). */
  'import.start',
  /** The bundle is opened: its signature checked, decrypted, decompressed. */
  'import.opened',
  /** The ledger's `pending` rows are committed. */
  'deliver.pending',
  /** Dovecot answered LMTP for every message of the batch. */
  'deliver.lmtp',
  /** The ledger's `delivered` rows are committed. */
  'deliver.recorded',
  /** Seen messages and owed acks committed: the bundle is taken. */
  'import.done',
  /** The answer went to the peer. */
  'peer.answered',
] as const
export type HopStep = (typeof HOP_STEPS)[number]

export interface HopMark {
  /** Wall-clock milliseconds, with the fraction. */
  t: number
  s: HopStep
  d?: string
}

class HopTrace {
  // One write per turn of the event loop, off the path being measured.
  private readonly lines = batchPerTurn<string>((lines) => appendFile(this.file, lines.join('\n') + '\n', () => undefined))

  constructor(readonly file: string) {}

  mark(s: HopStep, d?: string): void {
    const m: HopMark = { t: Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000, s, ...(d !== undefined ? { d } : {}) }
    this.lines.push(JSON.stringify(m))
  }
}

let cached: HopTrace | null | undefined

function trace(): HopTrace | null {
  if (cached === undefined) cached = process.env.OUTPOST_HOP_TRACE ? new HopTrace(process.env.OUTPOST_HOP_TRACE) : null
  return cached
}

/** Marks a step of the hop now, when OUTPOST_HOP_TRACE is set; otherwise does nothing. */
export function hopMark(step: HopStep, detail?: string): void {
  const t = cached === undefined ? trace() : cached
  if (t) t.mark(step, detail)
}

/** Whether the trace is on (to skip building a detail that costs something). */
export function hopTracing(): boolean {
  return (cached === undefined ? trace() : cached) !== null
}

/** The marks of a trace file's text, oldest first. */
export function parseHopTrace(text: string): HopMark[] {
  const out: HopMark[] = []
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    out.push(JSON.parse(line) as HopMark)
  }
  return out.sort((a, b) => a.t - b.t)
}
