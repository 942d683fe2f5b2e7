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
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'

const ATTACHED = Symbol.for('outpost.haraka.attached')

/** Idempotent per process: each plugin is its own bundle, so the flag lives on the shared process object. */
export function attachToSupervisor(pidFile: string | undefined): void {
  const p = process as NodeJS.Process & { [ATTACHED]?: boolean }
  if (p[ATTACHED]) return
  p[ATTACHED] = true
  if (typeof p.send === 'function') p.on('disconnect', () => process.exit(0))
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
