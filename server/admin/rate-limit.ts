// Counts failed attempts per client address in a sliding window: the login
// and the landing page's join both use it, so guessing a password or an
// invite code from one phone goes no faster than a few tries a quarter hour.
// Kept in memory: a restart forgets the count, which costs an attacker a
// node restart they cannot cause.

export interface FailureLimit {
  /** Failures allowed inside the window; the next attempt is refused. */
  max: number
  windowMs: number
}

export const LOGIN_LIMIT: FailureLimit = { max: 5, windowMs: 15 * 60 * 1000 }

export class FailureLimiter {
  readonly #fails = new Map<string, number[]>()

  constructor(
    private readonly limit: FailureLimit = LOGIN_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  #recent(key: string): number[] {
    const since = this.now() - this.limit.windowMs
    const list = (this.#fails.get(key) ?? []).filter((t) => t > since)
    if (list.length) this.#fails.set(key, list)
    else this.#fails.delete(key)
    return list
  }

  /** 0 when the key may try now, else the seconds until its oldest failure leaves the window. */
  retryAfterS(key: string): number {
    const list = this.#recent(key)
    if (list.length < this.limit.max) return 0
    return Math.max(1, Math.ceil((list[0]! + this.limit.windowMs - this.now()) / 1000))
  }

  fail(key: string): void {
    const list = this.#recent(key)
    list.push(this.now())
    this.#fails.set(key, list)
    // A flood from many addresses must not grow the map without bound.
    if (this.#fails.size > 10_000) for (const k of [...this.#fails.keys()].slice(0, 1000)) this.#fails.delete(k)
  }

  clear(key: string): void {
    this.#fails.delete(key)
  }
}
