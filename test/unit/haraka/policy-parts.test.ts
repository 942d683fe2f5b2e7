// The pure parts behind outpost_policy and outpost_auth: author check,
// routing, login cache, spawn arguments.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { authorOf } from '../../../server/routing/author.js'
import { LoginCache } from '../../../server/haraka/lib/login-cache.js'
import { domainOf, nextHop } from '../../../server/routing/route.js'
import { harakaSpawnArgs, isOurHaraka } from '../../../server/haraka/process.js'
import { nodePaths } from '../../../server/base/paths.js'
import { HARAKA_NODE_FLAGS } from '../../../server/base/v8-flags.js'

test('authorOf finds the one address in From:, whatever the display name says', () => {
  assert.deepEqual(authorOf(['Alice <Alice@Camp.test>']), { ok: true, address: 'alice@camp.test' })
  assert.deepEqual(authorOf(['alice@camp.test']), { ok: true, address: 'alice@camp.test' })
  assert.deepEqual(authorOf(['"bob@camp.test, <bob@camp.test>" <alice@camp.test>']), { ok: true, address: 'alice@camp.test' })
  assert.deepEqual(authorOf(['(bob@camp.test) alice@camp.test']), { ok: true, address: 'alice@camp.test' })
  assert.deepEqual(authorOf(['=?utf-8?q?Al=C3=ADce?=\r\n <alice@camp.test>']), { ok: true, address: 'alice@camp.test' })
})

test('authorOf refuses what has no single author', () => {
  assert.equal(authorOf([]).ok, false)
  assert.equal(authorOf(['a@x', 'b@x']).ok, false)
  assert.equal(authorOf(['a@x, b@x']).ok, false)
  assert.equal(authorOf(['undisclosed']).ok, false)
})

test('the router: our domains are local, others are unroutable with a reason', () => {
  const ctx = { domains: ['camp.test'], gateway: false, resolve: () => undefined }
  assert.deepEqual(nextHop(domainOf('Bob@Camp.test'), ctx), { kind: 'local' })
  assert.deepEqual(nextHop(domainOf('x@example.org'), ctx), { kind: 'none', reason: 'relaying to example.org is not possible from this node' })
  assert.deepEqual(nextHop(domainOf('nobody'), ctx), { kind: 'none', reason: 'the address has no domain' })
})

test('the login cache remembers a key for its lifetime only, and a different password is a different key', () => {
  let now = 0
  const cache = new LoginCache(1000, 2, () => now)
  const k = LoginCache.key('alice@camp.test', 'right', '{ARGON2ID}h')
  cache.add(k)
  assert.ok(cache.has(k))
  assert.ok(!cache.has(LoginCache.key('alice@camp.test', 'wrong', '{ARGON2ID}h')))
  assert.ok(!cache.has(LoginCache.key('alice@camp.test', 'right', '{ARGON2ID}new')))
  now = 1000
  assert.ok(!cache.has(k))
  cache.add('a')
  cache.add('b')
  cache.add('c')
  assert.ok(!cache.has('a'), 'the oldest entry goes first')
  assert.ok(cache.has('c'))
})

test('Haraka runs under this Node with its own bin, and the check for a stale one needs both', () => {
  const paths = nodePaths('/srv/n1')
  const a = harakaSpawnArgs(paths, { PATH: '/bin', NODE_TEST_CONTEXT: 'child' })
  assert.equal(a.command, process.execPath)
  // The node's memory-saving V8 flags (a small young generation first) reach Haraka too.
  assert.deepEqual(a.args.slice(0, HARAKA_NODE_FLAGS.length), [...HARAKA_NODE_FLAGS])
  assert.equal(a.args[0], '--max-semi-space-size=2', 'a small young generation keeps Haraka lean')
  assert.ok(a.args.includes('--no-opt'), 'no optimizing compiler: its code and feedback cost memory')
  assert.ok(!a.args.includes('--no-sparkplug'), "the baseline compiler runs Haraka's parser and hooks as machine code")
  assert.match(a.args[HARAKA_NODE_FLAGS.length]!, /Haraka\/bin\/haraka$/)
  assert.deepEqual(a.args.slice(HARAKA_NODE_FLAGS.length + 1), ['-c', paths.harakaDir])
  assert.deepEqual(a.env, { PATH: '/bin' })
  assert.ok(isOurHaraka([process.execPath, ...a.args], paths.harakaDir))
  assert.ok(!isOurHaraka([process.execPath, ...a.args], '/srv/n2/haraka'))
  assert.ok(!isOurHaraka(['vim', '-c', paths.harakaDir], paths.harakaDir))
  assert.ok(!isOurHaraka(null, paths.harakaDir))
})
