// A lock file in run/ so that two processes (the node and a CLI command)
// never do the same job at once; a lock whose holder died is taken over.
// The transports' runner and the account uplink both take theirs here.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { OutpostError } from './errors.js'

export class RunLockBusyError extends OutpostError {
  override name = 'RunLockBusyError'
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes run/<name>.lock or throws RunLockBusyError naming the holder; returns the release. */
export function takeRunLock(runDir: string, name: string, what: string): () => void {
  mkdirSync(runDir, { recursive: true })
  const path = join(runDir, `${name}.lock`)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => {
        try {
          unlinkSync(path)
        } catch {
          /* already gone */
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let holder = 0
      try {
        holder = Number(readFileSync(path, 'utf8').trim())
      } catch {
        /* released meanwhile */
      }
      if (holder && alive(holder)) throw new RunLockBusyError(`${what} is already running (process ${holder}); wait for it to finish`)
      try {
        unlinkSync(path)
      } catch {
        /* released meanwhile */
      }
    }
  }
  throw new RunLockBusyError(`cannot take the lock of ${what}`)
}

/** takeRunLock, waiting up to timeoutMs for a running holder to finish. */
export async function waitRunLock(runDir: string, name: string, what: string, timeoutMs: number): Promise<() => void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return takeRunLock(runDir, name, what)
    } catch (err) {
      if (!(err instanceof RunLockBusyError) || Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}
