// Waiting in tests: for a condition to hold, always with a bound. A test
// waits on the thing it needs, never for a fixed time: a fixed sleep is too
// short on a slow machine and wasted on a fast one.
import { inspect } from 'node:util'

export interface WaitOptions {
  /** How long to wait before giving up (default 60 s, for real services on a busy machine). */
  timeoutMs?: number
  /** How long to pause between probes (default 100 ms). */
  everyMs?: number
  /** Extra words for the timeout error, such as a log tail. */
  explain?: () => string | Promise<string>
}

type Probe<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>

function show(v: unknown): string {
  return inspect(v, { depth: 2, breakLength: Infinity, maxStringLength: 300, maxArrayLength: 20 })
}

/**
 * Calls probe until it returns something other than undefined, null or
 * false, and returns that. After timeoutMs it throws, naming what was
 * awaited and the last value the probe gave. An error thrown by the probe
 * is not retried: it ends the wait.
 */
export async function waitFor<T>(what: string, probe: Probe<T>, opts: WaitOptions | number = {}): Promise<T> {
  const o = typeof opts === 'number' ? { timeoutMs: opts } : opts
  const timeoutMs = o.timeoutMs ?? 60_000
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    last = await probe()
    if (last !== undefined && last !== null && last !== false) return last as T
    if (Date.now() > deadline) {
      const more = o.explain ? `; ${await o.explain()}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${show(last)}${more}`)
    }
    await new Promise((r) => setTimeout(r, o.everyMs ?? 100))
  }
}
