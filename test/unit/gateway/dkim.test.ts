// DKIM keys: made once per domain, rotated only with a new selector, and a
// DNS record whose key really is the signing key's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPublicKey, createSign, createVerify } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dkimDir, dkimDnsRecord, dkimTxtValue, ensureDkimKey, listDkimKeys, DkimError } from '../../../server/gateway/dkim.js'

test('a key per domain, kept, rotated only under a new selector, published as TXT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-dkim-'))
  try {
    const a = ensureDkimKey(dir, 'Camp.test', { selector: 's1' })
    assert.equal(a.created, true)
    assert.equal(a.key.domain, 'camp.test')
    assert.equal(statSync(join(dkimDir(dir, 'camp.test'), 'private.pem')).mode & 0o777, 0o600)
    assert.equal(ensureDkimKey(dir, 'camp.test').created, false)
    assert.throws(() => ensureDkimKey(dir, 'camp.test', { rotate: true, selector: 's1' }), /new selector/)
    const b = ensureDkimKey(dir, 'camp.test', { rotate: true, selector: 's2' })
    assert.notEqual(b.key.privatePem, a.key.privatePem)
    assert.throws(() => ensureDkimKey(dir, 'not a domain'), DkimError)
    assert.deepEqual(listDkimKeys(dir).map((k) => `${k.selector}._domainkey.${k.domain}`), ['s2._domainkey.camp.test'])

    // The published p= verifies what the private key signs.
    const p = /p=([A-Za-z0-9+/=]+)$/.exec(dkimTxtValue(b.key))![1]!
    const pub = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' })
    const sig = createSign('sha256').update('x').sign(b.key.privatePem)
    assert.equal(createVerify('sha256').update('x').verify(pub, sig), true)
    const record = dkimDnsRecord(b.key)
    assert.match(record, /^s2\._domainkey\.camp\.test\. IN TXT \( "v=DKIM1; k=rsa; p=/)
    for (const part of record.matchAll(/"([^"]*)"/g)) assert.ok(part[1]!.length <= 255, 'each TXT string fits in 255 bytes')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
