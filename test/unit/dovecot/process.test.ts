// The auth warm-up after Dovecot starts: one userdb lookup through doveadm,
// tried again while the instance is still starting, never an error.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import type { Exec, ExecResult } from '../../../server/base/exec.js'
import { nodePaths } from '../../../server/base/paths.js'
import { warmUpDovecotAuth } from '../../../server/dovecot/process.js'

const paths = nodePaths('/srv/outpost-test')

/** An Exec that answers each call with the next result and records the calls. */
function scripted(results: ExecResult[]): { exec: Exec; calls: Array<{ file: string; args: readonly string[] }> } {
  const calls: Array<{ file: string; args: readonly string[] }> = []
  const exec: Exec = async (file, args) => {
    calls.push({ file, args })
    return results[Math.min(calls.length - 1, results.length - 1)]!
  }
  return { exec, calls }
}

const notYet: ExecResult = { code: 75, stdout: '', stderr: 'Error: auth-master: userdb lookup(x): connect(auth-userdb) failed: No such file or directory' }

test('warm-up: asks doveadm for a userdb lookup with the node\'s config, and counts "no such user" as an answer', async () => {
  const { exec, calls } = scripted([notYet, notYet, { code: 67, stdout: '', stderr: 'userdb lookup: user auth-warm-up@camp.test doesn\'t exist' }])
  const r = await warmUpDovecotAuth(exec, paths, 'auth-warm-up@camp.test', { retryMs: 1 })
  assert.equal(r.ok, true, JSON.stringify(r))
  assert.equal(r.tries, 3, 'tried again while the auth socket was missing')
  assert.deepEqual(calls[0], { file: 'doveadm', args: ['-c', resolve(paths.dovecotConf), 'user', 'auth-warm-up@camp.test'] })
})

test('warm-up: an existing account is an answer too', async () => {
  const { exec } = scripted([{ code: 0, stdout: 'field\tvalue\nuid\t1000\n', stderr: '' }])
  assert.equal((await warmUpDovecotAuth(exec, paths, 'alice@camp.test')).ok, true)
})

test('warm-up: gives up after its time with doveadm\'s own words, without throwing', async () => {
  const { exec } = scripted([notYet])
  const r = await warmUpDovecotAuth(exec, paths, 'auth-warm-up@camp.test', { timeoutMs: 50, retryMs: 5 })
  assert.equal(r.ok, false)
  assert.ok(!r.ok && /exited 75: .*auth-userdb/.test(r.detail), JSON.stringify(r))
})

test('warm-up: a doveadm that cannot be run is reported, not thrown', async () => {
  const exec: Exec = async () => {
    throw new Error('doveadm is not installed or not on PATH')
  }
  const r = await warmUpDovecotAuth(exec, paths, 'auth-warm-up@camp.test', { timeoutMs: 20, retryMs: 5 })
  assert.ok(!r.ok && /not installed/.test(r.detail), JSON.stringify(r))
})
