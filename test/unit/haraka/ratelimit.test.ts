import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RateLimiter } from '../../../server/haraka/lib/ratelimit.js'

test('an account may send its burst at once, then at the per-minute rate', () => {
  let now = 0
  const rl = new RateLimiter({ perMinute: 60, burst: 3 }, () => now)
  for (let i = 0; i < 3; i++) assert.deepEqual(rl.take('alice'), { allowed: true })
  const denied = rl.take('alice')
  assert.equal(denied.allowed, false)
  assert.equal(!denied.allowed && denied.retryAfterMs, 1000)
  now = 999
  assert.equal(rl.take('alice').allowed, false)
  now = 2000
  assert.equal(rl.take('alice').allowed, true)
})

test('accounts have separate buckets', () => {
  const now = 0
  const rl = new RateLimiter({ perMinute: 1, burst: 1 }, () => now)
  assert.equal(rl.take('alice').allowed, true)
  assert.equal(rl.take('alice').allowed, false)
  assert.equal(rl.take('bob').allowed, true)
})

test('the bucket never holds more than the burst, however long the account was quiet', () => {
  let now = 0
  const rl = new RateLimiter({ perMinute: 60, burst: 2 }, () => now)
  rl.take('alice')
  now = 3_600_000
  assert.equal(rl.take('alice').allowed, true)
  assert.equal(rl.take('alice').allowed, true)
  assert.equal(rl.take('alice').allowed, false)
})

test('new limits apply without forgetting what was sent', () => {
  let now = 0
  const rl = new RateLimiter({ perMinute: 60, burst: 1 }, () => now)
  assert.equal(rl.take('alice').allowed, true)
  rl.setLimits({ perMinute: 6, burst: 5 })
  const d = rl.take('alice')
  assert.equal(d.allowed, false)
  assert.equal(!d.allowed && d.retryAfterMs, 10_000)
  now = 10_000
  assert.equal(rl.take('alice').allowed, true)
})

test('nonsense limits are refused', () => {
  assert.throws(() => new RateLimiter({ perMinute: 0, burst: 1 }), /positive/)
  assert.throws(() => new RateLimiter({ perMinute: 1, burst: 0 }), /positive/)
})
