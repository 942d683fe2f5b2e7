import { test } from 'node:test'
import assert from 'node:assert/strict'
import constants from 'haraka-constants'
import { guardHook } from '../../../server/haraka/lib/guard.js'
import type { HookMessage, Next } from '../../../server/haraka/lib/haraka-api.js'

function plugin() {
  const errors: unknown[][] = []
  return { errors, logerror: (...args: unknown[]) => void errors.push(args) }
}

function recorder() {
  const calls: [number | undefined, HookMessage | undefined][] = []
  let resolve!: () => void
  const first = new Promise<void>((r) => (resolve = r))
  const next: Next = (code, msg) => {
    calls.push([code, msg])
    resolve()
  }
  return { calls, next, first }
}

const settle = () => new Promise((r) => setImmediate(r))

test('a hook that throws answers DENYSOFT once and logs the error', async () => {
  const p = plugin()
  const r = recorder()
  const hook = guardHook('boom', function (_next: Next, _conn: unknown) {
    throw new Error('disk on fire')
  })
  hook.call(p, r.next, { uuid: 'c1' })
  await settle()
  assert.equal(r.calls.length, 1)
  assert.equal(r.calls[0]![0], constants.denysoft)
  assert.match(String(r.calls[0]![1]), /^451 4\.3\.0 /)
  assert.equal(p.errors.length, 1)
  assert.match(String(p.errors[0]!.at(-1)), /disk on fire/)
})

test('an async hook that rejects answers DENYSOFT once, even after a late next()', async () => {
  const p = plugin()
  const r = recorder()
  const hook = guardHook('async boom', async function (_next: Next, _conn: unknown) {
    await settle()
    throw new Error('ledger unavailable')
  })
  hook.call(p, r.next, {})
  await r.first
  await settle()
  assert.deepEqual(
    r.calls.map((c) => c[0]),
    [constants.denysoft],
  )
  assert.match(String(p.errors[0]!.at(-1)), /ledger unavailable/)
})

test('a hook that answers and then throws keeps its answer; the error is logged', async () => {
  const p = plugin()
  const r = recorder()
  const hook = guardHook('answers then throws', function (next: Next, _conn: unknown) {
    next(constants.ok, 'fine')
    throw new Error('after the fact')
  })
  hook.call(p, r.next, {})
  await settle()
  assert.deepEqual(r.calls, [[constants.ok, 'fine']])
  assert.equal(p.errors.length, 1)
})

test('a second next() is dropped and logged', async () => {
  const p = plugin()
  const r = recorder()
  const hook = guardHook('twice', function (next: Next, _conn: unknown) {
    next(constants.ok)
    next(constants.deny)
  })
  hook.call(p, r.next, {})
  await settle()
  assert.deepEqual(r.calls, [[constants.ok, undefined]])
  assert.match(String(p.errors[0]!.at(-1)), /second time/)
})

test('an async hook that resolves without answering gets DENYSOFT', async () => {
  const p = plugin()
  const r = recorder()
  const hook = guardHook('silent', async function (_next: Next, _conn: unknown) {})
  hook.call(p, r.next, {})
  await r.first
  assert.equal(r.calls[0]![0], constants.denysoft)
})

test('a hook that answers later from a callback is left alone', async () => {
  const p = plugin()
  const r = recorder()
  const hook = guardHook('later', function (next: Next, _conn: unknown) {
    setTimeout(() => next(constants.cont), 5)
  })
  hook.call(p, r.next, {})
  await r.first
  assert.deepEqual(r.calls, [[constants.cont, undefined]])
  assert.equal(p.errors.length, 0)
})
