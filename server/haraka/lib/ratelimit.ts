// Per-account send rate: a token bucket holding up to `burst` messages that
// refills at `perMinute`. Pure; the clock is injected so tests need no waiting.
export interface RateLimits {
  perMinute: number
  burst: number
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number }

interface Bucket {
  tokens: number
  at: number
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private limits: RateLimits

  constructor(
    limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.limits = checkLimits(limits)
  }

  /** Settings reload without forgetting what each account has already sent. */
  setLimits(limits: RateLimits): void {
    this.limits = checkLimits(limits)
  }

  /** Takes one message's token for `key`, or says how long until one is free. */
  take(key: string): RateDecision {
    const now = this.now()
    const { perMinute, burst } = this.limits
    const perMs = perMinute / 60_000
    const b = this.buckets.get(key) ?? { tokens: burst, at: now }
    const tokens = Math.min(burst, b.tokens + Math.max(0, now - b.at) * perMs)
    if (tokens >= 1) {
      this.buckets.set(key, { tokens: tokens - 1, at: now })
      this.sweep(now)
      return { allowed: true }
    }
    this.buckets.set(key, { tokens, at: now })
    return { allowed: false, retryAfterMs: Math.ceil((1 - tokens) / perMs) }
  }

  /** Forgets buckets that have refilled: they are the same as no bucket, and memory stays bounded by active senders. */
  private sweep(now: number): void {
    if (this.buckets.size < 1024) return
    const perMs = this.limits.perMinute / 60_000
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * perMs >= this.limits.burst) this.buckets.delete(key)
    }
  }
}

function checkLimits(l: RateLimits): RateLimits {
  if (!(l.perMinute > 0) || !(l.burst >= 1)) throw new RangeError(`rate limits must be positive (got ${l.perMinute}/min, burst ${l.burst})`)
  return { perMinute: l.perMinute, burst: l.burst }
}
