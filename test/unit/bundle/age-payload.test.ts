import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption'
import { decryptAgePayload, splitAgeFile } from '../../../server/bundle/age-payload.js'

async function roundTrip(size: number) {
  const identity = await generateX25519Identity()
  const e = new Encrypter()
  e.addRecipient(await identityToRecipient(identity))
  const plain = randomBytes(size)
  const file = await e.encrypt(plain)
  const d = new Decrypter()
  d.addIdentity(identity)
  const { header, rest } = splitAgeFile(file)
  return { plain, file, d, header, rest, fileKey: await d.decryptHeader(header) }
}

test('the native payload decryption agrees with the age library, across chunk boundaries', async () => {
  for (const size of [0, 1, 65535, 65536, 65537, 3 * 65536, 200_000]) {
    const { plain, file, d, rest, fileKey } = await roundTrip(size)
    const ours = decryptAgePayload(fileKey, rest)
    assert.ok(ours.equals(plain), `size ${size}`)
    assert.ok(Buffer.from(await d.decrypt(file)).equals(ours), `library agrees at size ${size}`)
  }
})

test('a payload cut at a chunk boundary, or with a flipped bit, does not decrypt', async () => {
  const { rest, fileKey } = await roundTrip(3 * 65536 + 10)
  const chunk = 65536 + 16
  assert.throws(() => decryptAgePayload(fileKey, rest.subarray(0, 16 + 2 * chunk)), /does not authenticate/)
  const flipped = Buffer.from(rest)
  flipped[16 + 100]! ^= 1
  assert.throws(() => decryptAgePayload(fileKey, flipped), /chunk 0 does not authenticate/)
  assert.throws(() => decryptAgePayload(fileKey, rest.subarray(0, 20)), /too short/)
})
