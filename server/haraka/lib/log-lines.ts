// Haraka's log lines in a child process, written once per turn of the event
// loop instead of once per line.
//
// A child Haraka's stdout is a pipe to its supervisor, which copies it into
// log/haraka.out.log, and Node writes to a pipe synchronously on Linux: at
// level=info every session logs a dozen lines, each one a write(2) on the
// event loop, and a wait whenever the supervisor falls behind (it runs on
// the same two cores). Under 20 senders the CPU profile of the child put
// these writes first of everything, 0.77 of 10.5 busy seconds, every SMTP
// session stalled meanwhile. The lines are the same text in the same order,
// as Haraka would have written them (timestamps as log.ini says; a pipe gets
// no colours), gathered and written in one piece on the next turn.
//
// An orderly exit loses none: what is gathered is written synchronously on
// 'exit'. A kill -9 can lose the lines of the turn it hit, the crash point
// included (crash-point.ts says itself on stderr, which is not gathered).
// In-process (host.ts) Haraka's lines go to a file stream instead.
import constants from 'haraka-constants'
import { batchPerTurn } from '../../base/turn-batch.js'

/** The parts of Haraka's logger.js replaced here. */
export interface HarakaLogger {
  timestamps: boolean
  log_respond: (retval: unknown, msg: unknown, data: { level: string; data: string }) => boolean
}

export interface LineSink {
  write(text: string): unknown
}

/** Replaces the logger's per-line write with one write per turn; returns the flush, for exit. */
export function gatherLogLines(logger: HarakaLogger, out: LineSink = process.stdout): () => void {
  const lines = batchPerTurn<string>((batch) => out.write(batch.join('')))
  logger.log_respond = (retval, _msg, data) => {
    // Haraka's own rule: a log plugin that answered something else took the line.
    if (retval !== constants.cont) return false
    lines.push(`${logger.timestamps ? `${new Date().toISOString()} ` : ''}${data.data}\n`)
    return true
  }
  return lines.flush
}
