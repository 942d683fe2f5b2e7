// The node's keys: made once, private to the node's user, stable across loads.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sign, verify } from 'node:crypto'
import { Decrypter, Encrypter } from 'age-encryption'
import { nodePaths } from '../../../server/base/paths.js'
import { ensureIdentity, loadIdentity, signPublicFromB64 } from '../../../server/identity/keys.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'op-keys-'))
const mode = (p: string) => statSync(p).mode & 0o777

test('ensureIdentity creates the keys once, in a 0700 dir with 0600 files, and loads them back', async () => {
  const dir = tmp()
  try {
    const paths = nodePaths(dir)
    assert.throws(() => loadIdentity(paths), { name: 'IdentityError', message: /sign\.pem is missing/ })
    const id = await ensureIdentity(paths)
    assert.equal(mode(paths.keysDir), 0o700)
    for (const f of [paths.signKey, paths.ageKey, paths.ageRecipient]) assert.equal(mode(f), 0o600, f)
    // No staged files are left behind.
    assert.deepEqual(readdirSync(paths.keysDir).sort(), ['age.key', 'age.pub', 'sign.pem'])
    assert.match(readFileSync(paths.signKey, 'utf8'), /^-----BEGIN PRIVATE KEY-----/)
    assert.equal(id.signPrivate.asymmetricKeyType, 'ed25519')
    assert.equal(Buffer.from(id.signPublicB64, 'base64url').length, 32)
    assert.match(id.ageIdentity, /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/)
    assert.match(id.ageRecipient, /^age1[0-9a-z]{58}$/)

    const again = await ensureIdentity(paths)
    const loaded = loadIdentity(paths)
    for (const x of [again, loaded]) {
      assert.equal(x.signPublicB64, id.signPublicB64)
      assert.equal(x.ageIdentity, id.ageIdentity)
      assert.equal(x.ageRecipient, id.ageRecipient)
    }
    // The loaded keys work: a signature verifies under the card form of the
    // public key, and what is encrypted to the recipient opens with the identity.
    const msg = Buffer.from('bundle bytes')
    assert.equal(verify(null, msg, signPublicFromB64(loaded.signPublicB64), sign(null, msg, loaded.signPrivate)), true)
    const enc = new Encrypter()
    enc.addRecipient(loaded.ageRecipient)
    const dec = new Decrypter()
    dec.addIdentity(loaded.ageIdentity)
    assert.equal(await dec.decrypt(await enc.encrypt('hello peer'), 'text'), 'hello peer')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a lost age.pub is derived again; an existing key is never replaced; a readable key is refused', async () => {
  const dir = tmp()
  try {
    const paths = nodePaths(dir)
    const id = await ensureIdentity(paths)
    unlinkSync(paths.ageRecipient)
    assert.throws(() => loadIdentity(paths), /age\.pub is missing/)
    assert.equal((await ensureIdentity(paths)).ageRecipient, id.ageRecipient)

    chmodSync(paths.keysDir, 0o755)
    chmodSync(paths.signKey, 0o644)
    assert.throws(() => loadIdentity(paths), { name: 'IdentityError', message: /sign\.pem is readable by other users.*chmod 600/ })
    chmodSync(paths.signKey, 0o600)
    assert.equal((await ensureIdentity(paths)).signPublicB64, id.signPublicB64)
    assert.equal(mode(paths.keysDir), 0o700)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('concurrent ensureIdentity calls agree on one key', async () => {
  const dir = tmp()
  try {
    const paths = nodePaths(dir)
    const ids = await Promise.all([ensureIdentity(paths), ensureIdentity(paths), ensureIdentity(paths)])
    assert.equal(new Set(ids.map((i) => i.signPublicB64)).size, 1)
    assert.equal(new Set(ids.map((i) => i.ageRecipient)).size, 1)
    assert.equal(loadIdentity(paths).signPublicB64, ids[0]!.signPublicB64)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
