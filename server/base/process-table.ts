// Reading the process table (/proc), for finding and stopping a Haraka or
// Dovecot that an earlier run of the node left behind.
import { readFileSync } from 'node:fs'

/** The command line of a process, or undefined when there is no such process. */
export function processArgv(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '')
  } catch {
    return undefined
  }
}

/** Whether a process still runs. A zombie has exited already; it only waits for its parent to reap it. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** Waits until the process is gone; false if it still runs after `ms`. */
export async function waitProcessGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (!processAlive(pid)) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return !processAlive(pid)
}
