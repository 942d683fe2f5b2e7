// Every hook of ours runs inside guardHook. Haraka treats a hook that throws
// as if it had passed (plugins.js run_next_hook catches the error, logs CRIT
// and calls next() with no code), and a rejected promise escapes to its
// uncaughtException handler, which stops the server. For an authenticated
// sender "passed" at queue_outbound means Haraka's own outbound queue takes
// the message, answers 250 and later bounces it: the client believes a
// message was sent that nobody will receive. So any failure here answers
// DENYSOFT, and the client keeps the message and retries.
import constants from 'haraka-constants'
import type { HookMessage, Next } from './haraka-api.js'
import { smtpReply } from './reply.js'

export interface HookLog {
  logerror(...args: unknown[]): void
}

export type Hook<This, A extends unknown[]> = (this: This, next: Next, ...args: A) => unknown

export const TEMPORARY_FAILURE = smtpReply(451, '4.3.0', 'Temporary server error; please try again later')

function describe(err: unknown): unknown {
  return err instanceof Error ? err : new Error(`non-Error thrown: ${String(err)}`)
}

/**
 * Wraps a hook so that next() is called exactly once: a throw, a rejected
 * promise, or a promise that settles without calling next() all answer
 * DENYSOFT; a second call is logged and dropped.
 */
export function guardHook<This extends HookLog, A extends unknown[]>(name: string, hook: Hook<This, A>): Hook<This, A> {
  return function guarded(this: This, next: Next, ...args: A): void {
    const plugin = this
    // The connection (or hmail) comes first after next; logging with it puts the session id on the line.
    const subject = args[0]
    let called = false
    const once: Next = (code?: number, msg?: HookMessage) => {
      if (called) {
        plugin.logerror(subject, `${name}: next() called a second time (code ${code ?? 'none'}); ignored`)
        return
      }
      called = true
      next(code, msg)
    }
    const fail = (err: unknown): void => {
      plugin.logerror(subject, `${name} failed, answering DENYSOFT so the client retries:`, describe(err))
      if (!called) once(constants.denysoft, TEMPORARY_FAILURE)
    }
    let result: unknown
    try {
      result = hook.call(plugin, once, ...args)
    } catch (err) {
      fail(err)
      return
    }
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      ;(result as PromiseLike<unknown>).then(
        () => {
          if (!called) fail(new Error(`${name} settled without answering`))
        },
        fail,
      )
    }
  }
}
