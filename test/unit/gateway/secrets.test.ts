// Secrets at rest: sealed with keys/secrets.key, bound to their setting.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSecret, sealSecret, secretsKey, secretsKeyPath, SecretError } from '../../../server/gateway/secrets.js'

test('a sealed secret opens with the same key and label only, and the key file is private', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-sec-'))
  try {
    assert.throws(() => secretsKey(dir), SecretError, 'no key is made unless asked')
    const key = secretsKey(dir, { create: true })
    assert.equal(statSync(secretsKeyPath(dir)).mode & 0o777, 0o600)
    const sealed = sealSecret(key, 'uplink.smarthost.password', 'hunter2-long')
    assert.ok(!sealed.includes('hunter2'))
    assert.notEqual(sealed, sealSecret(key, 'uplink.smarthost.password', 'hunter2-long'), 'a fresh nonce each time')
    assert.equal(openSecret(key, 'uplink.smarthost.password', sealed), 'hunter2-long')
    assert.throws(() => openSecret(key, 'other.label', sealed), /cannot be opened/)
    assert.throws(() => openSecret(Buffer.alloc(32, 7), 'uplink.smarthost.password', sealed), /set it again/)
    assert.deepEqual(secretsKey(dir), key, 'the key is kept')
    assert.ok(readFileSync(secretsKeyPath(dir), 'utf8').trim().length > 40)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
