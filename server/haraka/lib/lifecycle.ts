// Haraka's life as a child of `outpost start`.
//
// The supervisor spawns Haraka with an IPC channel. When the supervisor dies,
// even by SIGKILL, the channel closes: exiting then keeps a Haraka without a
// supervisor from holding the SMTP ports. Haraka's own 'message' listeners
// (plugins.js, outbound/index.js) only act on {event: ...} messages from a
// cluster master; with nodes=0 there is none and the supervisor sends none.
//
// The pid file lets the next `outpost start` find and stop a Haraka that
// outlived everything else (process.ts stopStaleHaraka checks the process's
// command line before it kills anything).
//
// Hosted inside `outpost start` (host.ts, [smtp] haraka = "in-process") none
// of that applies: the process is the node's, its signals and exit belong to
// the node, and host.ts waits for the deliveries in flight itself.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { createRequire } from 'node:module'
import { gatherLogLines, type HarakaLogger } from './log-lines.js'

const ATTACHED = Symbol.for('outpost.haraka.attached')
const STATE = Symbol.for('outpost.haraka.deliveries')
const HOSTED = Symbol.for('outpost.haraka.hosted')

/** Longest we wait for in-flight deliveries before exiting anyway. */
export const DRAIN_TIMEOUT_MS = 20_000

interface DeliveryState {
  inFlight: number
  draining: boolean
}

// Shared by every plugin bundle through the process object.
function state(): DeliveryState {
  const p = process as NodeJS.Process & { [STATE]?: DeliveryState }
  return (p[STATE] ??= { inFlight: 0, draining: false })
}

/**
 * Runs one delivery so that an exit waits for it. Between Dovecot's "stored"
 * and the ledger row that records it, an exit would make the client's retry
 * deliver the message a second time; a drain closes that window for every
 * exit we are told about (SIGTERM, our supervisor's death).
 */
export async function trackDelivery<T>(work: () => Promise<T>): Promise<T> {
  const st = state()
  st.inFlight++
  try {
    return await work()
  } finally {
    st.inFlight--
    if (st.draining && st.inFlight === 0) process.exit(0)
  }
}

/** Exits once no delivery is in flight (at once when none is). */
export function drainAndExit(): void {
  const st = state()
  if (st.draining) return
  st.draining = true
  if (st.inFlight === 0) process.exit(0)
  setTimeout(() => process.exit(0), DRAIN_TIMEOUT_MS).unref()
}

/** Deliveries between their start and their ledger row, in this process. */
export function deliveriesInFlight(): number {
  return state().inFlight
}

/**
 * Marks this process as the node hosting Haraka: from then on
 * attachToSupervisor leaves the process's signals, exit and pid file alone.
 * Returns false when Haraka is already hosted here (its modules are
 * process-wide singletons, so a second one cannot be started).
 */
export function markHosted(): boolean {
  const p = process as NodeJS.Process & { [HOSTED]?: boolean }
  if (p[HOSTED]) return false
  p[HOSTED] = true
  return true
}

/** Idempotent per process: each plugin is its own bundle, so the flag lives on the shared process object. */
export function attachToSupervisor(pidFile: string | undefined): void {
  const p = process as NodeJS.Process & { [ATTACHED]?: boolean; [HOSTED]?: boolean }
  if (p[ATTACHED] || p[HOSTED]) return
  p[ATTACHED] = true
  // Haraka's logger of this process (the same node_modules, so the same module instance).
  const flushLog = gatherLogLines(createRequire(import.meta.url)('Haraka/logger') as HarakaLogger)
  p.on('exit', flushLog)
  if (typeof p.send === 'function') p.on('disconnect', drainAndExit)
  // Haraka itself handles SIGTERM only as pid 1; elsewhere the default would
  // end it in the middle of a delivery.
  p.on('SIGTERM', drainAndExit)
  if (!pidFile) return
  mkdirSync(dirname(pidFile), { recursive: true })
  writeFileSync(pidFile, `${process.pid}\n`)
  p.on('exit', () => {
    try {
      if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) unlinkSync(pidFile)
    } catch {
      // Already gone: nothing to clean up.
    }
  })
}
