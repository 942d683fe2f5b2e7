import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliCompressSync, deflateRawSync } from 'node:zlib'
import { foldKey, keyRef, nextFoldedKey } from '../../../../server/bundle/narrow/autocrypt-key.js'
import { decodeNarrow, encodeNarrow, UnknownKeyRefError } from '../../../../server/bundle/narrow/codec.js'
import { NARROW_DICTIONARY } from '../../../../server/bundle/narrow/dictionary.js'
import { Keyring } from '../../../../server/bundle/narrow/keyring.js'
import { DICTIONARY_SAMPLES, deltaChatSamples } from '../../../helpers/deltachat-samples.js'

const MAX = 1 << 20
const none = () => undefined

/** An unencrypted message with an Autocrypt header, as a SecureJoin request carries one: the key folded over continuation lines. */
function withAutocrypt(key: Buffer, o: { eol?: string; first?: number; lineLength?: number; tab?: boolean } = {}): Buffer {
  const eol = o.eol ?? '\r\n'
  const folded = foldKey(key, { crlf: eol === '\r\n', tab: o.tab ?? false, first: o.first ?? 0, lineLength: o.lineLength ?? 76 })
  return Buffer.from([
    'Subject: Message from alice@camp.test', 'Chat-Version: 1.0', 'Secure-Join: vc-request', 'Secure-Join-Invitenumber: 7bq0pW3m1KzX',
    `Autocrypt: addr=alice@camp.test; prefer-encrypt=mutual; keydata=${folded}`,
    'MIME-Version: 1.0', 'From: <alice@camp.test>', 'To: <bob@town.test>', '', 'Secure-Join: vc-request', '',
  ].join(eol), 'latin1')
}

test('the dictionary codec gives every real Delta Chat sample back byte for byte, smaller than brotli of the same message', () => {
  for (const s of deltaChatSamples()) {
    const e = encodeNarrow(s.data)
    assert.ok(decodeNarrow(e.bytes, none, MAX).plain.equals(s.data), s.name)
    const brotli = brotliCompressSync(s.data).length
    assert.ok(e.bytes.length < brotli - 150, `${s.name}: narrow ${e.bytes.length}, brotli ${brotli}`)
  }
})

test('the dictionary is worth its bytes on messages it was not made from', () => {
  for (const s of deltaChatSamples().filter((x) => !DICTIONARY_SAMPLES.includes(x.name))) {
    const withDict = encodeNarrow(s.data).bytes.length
    const without = encodeNarrow(s.data, () => false, { armor: true, keyRefs: true, dictionary: false }).bytes.length
    assert.ok(withDict < without - 150, `${s.name}: ${withDict} with the dictionary, ${without} without`)
  }
  assert.ok(NARROW_DICTIONARY.length > 1000 && NARROW_DICTIONARY.length <= 32 * 1024)
})

test('any bytes at all come back identical: random binary, empty, and text with no armor', () => {
  for (const plain of [randomBytes(5000), Buffer.alloc(0), Buffer.from('MAIL FROM:<a@b.test>\r\nDATA\r\n.\r\nQUIT\r\n')]) {
    assert.ok(decodeNarrow(encodeNarrow(plain).bytes, none, MAX).plain.equals(plain))
  }
})

test('a damaged narrow payload is an error, never wrong bytes', () => {
  const s = deltaChatSamples()[0]!
  const e = encodeNarrow(s.data).bytes
  let errors = 0
  for (let i = 0; i < e.length; i += 7) {
    const bad = Buffer.from(e)
    bad[i] = bad[i]! ^ 0x5a
    try {
      const back = decodeNarrow(bad, none, MAX).plain
      // Deflate has no checksum: a flip may decode. It must then differ, and the bundle's signature and age MAC are what catch it.
      assert.ok(!back.equals(s.data) || bad.equals(e))
    } catch {
      errors++
    }
  }
  assert.ok(errors > 0)
  assert.throws(() => decodeNarrow(Buffer.from([1, 2, 3]), none, MAX))
})

test('an unpacked size above the limit is refused', () => {
  const plain = Buffer.alloc(100_000, 'a')
  assert.throws(() => decodeNarrow(encodeNarrow(plain).bytes, none, 50_000), RangeError)
})

test('an Autocrypt key goes whole to a peer that may not hold it, and as a 12-byte reference to one that does', () => {
  const key = randomBytes(420)
  const msg = withAutocrypt(key)
  const ref = keyRef(key)
  const whole = encodeNarrow(msg, () => false)
  assert.deepEqual([...whole.keysSent.keys()], [ref])
  assert.deepEqual(whole.refsSent, [])
  const d = decodeNarrow(whole.bytes, none, MAX)
  assert.ok(d.plain.equals(msg))
  assert.ok(d.keysReceived.get(ref)?.equals(key))

  const byRef = encodeNarrow(msg, (r) => r === ref)
  assert.deepEqual(byRef.refsSent, [ref])
  assert.equal(byRef.keysSent.size, 0)
  assert.ok(byRef.bytes.length < whole.bytes.length - 380, `${byRef.bytes.length} by reference, ${whole.bytes.length} whole`)
  assert.ok(decodeNarrow(byRef.bytes, (r) => (r === ref ? key : undefined), MAX).plain.equals(msg))
})

test('a reference the far end holds no key for is an UnknownKeyRefError naming it, never a message without its key', () => {
  const key = randomBytes(420)
  const ref = keyRef(key)
  const e = encodeNarrow(withAutocrypt(key), () => true)
  assert.throws(() => decodeNarrow(e.bytes, none, MAX), (err: unknown) => err instanceof UnknownKeyRefError && err.refs.length === 1 && err.refs[0] === ref)
  // A key that hashes to another reference is not taken for it.
  assert.throws(() => decodeNarrow(e.bytes, () => randomBytes(420), MAX), UnknownKeyRefError)
})

test('the same key twice in one payload goes whole once, and the second refers to the first', () => {
  const key = randomBytes(300)
  const one = withAutocrypt(key)
  const plain = Buffer.concat([one, one])
  const e = encodeNarrow(plain, () => false)
  assert.ok(decodeNarrow(e.bytes, none, MAX).plain.equals(plain))
})

test('key folds: tab or space, key on the keydata= line or the next, LF or CRLF, 64 or 76 columns all rebuild exactly', () => {
  const key = randomBytes(333)
  for (const o of [{}, { tab: true }, { first: 20 }, { eol: '\n' }, { lineLength: 64 }]) {
    const msg = withAutocrypt(key, o)
    const k = nextFoldedKey(msg.toString('latin1'), 0)
    assert.ok(k, JSON.stringify(o))
    assert.ok(k.binary.equals(key))
    assert.ok(decodeNarrow(encodeNarrow(msg).bytes, none, MAX).plain.equals(msg))
  }
  // A fold that cannot be rebuilt (uneven lines) stays text and still comes back whole.
  const uneven = Buffer.from(withAutocrypt(key).toString('latin1').replace(/\r\n ([A-Za-z0-9+/]{76})\r\n /, (_m, l: string) => `\r\n ${l.slice(0, 70)}\r\n ${l.slice(70)}`), 'latin1')
  assert.equal(nextFoldedKey(uneven.toString('latin1'), 0), undefined)
  assert.ok(decodeNarrow(encodeNarrow(uneven).bytes, none, MAX).plain.equals(uneven))
})

test('the keyring keeps keys by reference and does not hand out a file that fails its hash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-keyring-'))
  try {
    const ring = new Keyring(join(dir, 'keys'))
    const key = randomBytes(200)
    const ref = keyRef(key)
    assert.equal(ring.get(ref), undefined)
    ring.put(new Map([[ref, key]]))
    assert.ok(new Keyring(join(dir, 'keys')).get(ref)?.equals(key))
    writeFileSync(join(dir, 'keys', ref), randomBytes(200))
    assert.equal(ring.get(ref), undefined)
    assert.equal(ring.get('../../etc/passwd'), undefined)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('deflate with the dictionary is what the encoding uses (not a plain deflate)', () => {
  const s = deltaChatSamples()[0]!
  assert.notDeepEqual(encodeNarrow(s.data).bytes, deflateRawSync(s.data))
})
