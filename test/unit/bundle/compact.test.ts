import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { Encrypter, generateIdentity, identityToRecipient } from 'age-encryption'
import { FRAME_BYTES, MAGIC, newBundleId, openBundle, sealBundle, verifyBundle, BundleError, type BundleHeader, type OpenOptions } from '../../../server/bundle/format.js'
import { CompactBundleError, compactBundle, expandBundle, isCompactForm } from '../../../server/bundle/compact.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import { deltaChatSamples } from '../../helpers/deltachat-samples.js'

const T0 = Date.UTC(2026, 11, 7, 10, 0, 0)
const DAY = 86_400_000
const camp = generateKeyPairSync('ed25519')
const townIdentity = await generateIdentity()
const townRecipient = await identityToRecipient(townIdentity)
const signers = new Map<string, KeyObject>([['camp', camp.publicKey]])

const header = (over: Partial<BundleHeader> = {}): Omit<BundleHeader, 'v' | 'count'> => ({ id: newBundleId(), kind: 'mail', origin: 'camp', destination: 'town', created: T0, expires: T0 + 7 * DAY, hops: 0, hopLimit: 4, ...over })
const opts: OpenOptions = { signerFor: (o) => signers.get(o), identity: townIdentity, self: 'town', now: T0 + DAY, maxBytes: 1 << 26, maxDecompressedBytes: 1 << 26 }
const messages = (datas: Buffer[]) => datas.map((data) => ({ sender: 'alice@camp.test', recipients: ['bob@town.test'], data, id: stableMessageId(data, 'alice@camp.test') }))
const real = deltaChatSamples().map((s) => s.data)

function compacted(bundle: Buffer): Buffer {
  const r = compactBundle(bundle)
  assert.ok('compact' in r, `expected a compact form, got: ${'unchanged' in r ? r.unchanged : ''}`)
  return r.compact
}

/** A bundle laid out by hand around any header text and age file, signed as camp: what another implementation might write. */
function handMade(json: string, age: Buffer): Buffer {
  const j = Buffer.from(json, 'utf8')
  const frame = Buffer.alloc(FRAME_BYTES)
  MAGIC.copy(frame)
  frame.writeUInt32BE(j.length, MAGIC.length)
  frame.writeBigUInt64BE(BigInt(age.length), MAGIC.length + 4)
  frame.writeUInt32BE(crc32(frame.subarray(0, FRAME_BYTES - 4)), FRAME_BYTES - 4)
  const signed = Buffer.concat([frame, j, age])
  return Buffer.concat([signed, sign(null, signed, camp.privateKey)])
}

test('a brotli mail bundle, a narrow-1 one and an ack bundle each expand from their compact form to the identical bytes, which open as before', async () => {
  const bundles = {
    brotli: await sealBundle({ header: header(), payload: { messages: messages([real[0]!]) }, signKey: camp.privateKey, recipient: townRecipient }),
    narrow: await sealBundle({ header: header(), payload: { messages: messages([real[0]!]) }, signKey: camp.privateKey, recipient: townRecipient, narrow: { peerHasKey: () => false } }),
    ack: await sealBundle({ header: header({ kind: 'ack' }), payload: { acks: { messageIds: [stableMessageId(real[0]!, 'alice@camp.test')], bundleIds: [newBundleId()] } }, signKey: camp.privateKey, recipient: townRecipient }),
  }
  for (const [what, bundle] of Object.entries(bundles)) {
    assert.equal(isCompactForm(bundle), false, what)
    const c = compacted(bundle)
    assert.equal(isCompactForm(c), true, what)
    // The frame (33 → 0), the header JSON (~175 → ~40) and the age header (168 → 96): over 200 bytes less.
    assert.ok(bundle.length - c.length > 200, `${what}: ${bundle.length} → ${c.length}`)
    const back = expandBundle(c)
    assert.ok(back.equals(bundle), what)
    const opened = await openBundle(back, opts)
    assert.equal(opened.kind, what === 'ack' ? 'ack' : 'mail')
    if (opened.kind === 'mail') assert.ok(opened.payload.messages[0]!.data.equals(real[0]!), what)
  }
})

test('a bundle of many age chunks (over 64 KiB of payload) and one of all the sample messages round-trip', async () => {
  const big = await sealBundle({ header: header(), payload: { messages: messages([randomBytes(200_000)]) }, signKey: camp.privateKey, recipient: townRecipient })
  assert.ok(expandBundle(compacted(big)).equals(big))
  const many = await sealBundle({ header: header({ hops: 3, hopLimit: 255, created: 2 ** 50, expires: 2 ** 52 }), payload: { messages: messages(real) }, signKey: camp.privateKey, recipient: townRecipient, narrow: { peerHasKey: () => false } })
  assert.ok(expandBundle(compacted(many)).equals(many))
})

test('a bundle the compact form cannot reproduce byte for byte is left unchanged, with the reason', async () => {
  const good = await sealBundle({ header: header(), payload: { messages: messages([real[0]!]) }, signKey: camp.privateKey, recipient: townRecipient })
  const json = good.toString('utf8', FRAME_BYTES, FRAME_BYTES + good.readUInt32BE(MAGIC.length))
  const age = good.subarray(FRAME_BYTES + Buffer.byteLength(json), good.length - 64)
  // As it is, the hand-made twin compacts: the cases below differ from it in one thing each.
  assert.ok('compact' in compactBundle(handMade(json, age)))
  const unchanged = (b: Buffer) => {
    const r = compactBundle(b)
    assert.ok('unchanged' in r, 'expected the bundle to go unchanged')
    return r.unchanged
  }
  assert.match(unchanged(handMade(json.replace('}', ',"note":"x"}'), age)), /fields/)
  assert.match(unchanged(handMade(json.replace('"kind"', ' "kind"'), age)), /same bytes/)
  assert.match(unchanged(handMade(json.replace(/"hops":0/, '"hops":0.0'), age)), /same bytes/)
  // An age file for two recipients has two stanzas.
  const e = new Encrypter()
  e.addRecipient(townRecipient)
  e.addRecipient(await identityToRecipient(await generateIdentity()))
  assert.match(unchanged(handMade(json, Buffer.from(await e.encrypt(Buffer.from('x'))))), /X25519 stanza/)
  assert.match(unchanged(Buffer.from('OUTPOST-BUNDLE 2\n' + 'x'.repeat(200))), /not a version 1 bundle/)
  assert.match(unchanged(good.subarray(0, good.length - 1)), /lengths/)
})

test('a truncated compact form is refused with the compact form\'s own error, at every length', async () => {
  const bundle = await sealBundle({ header: header({ kind: 'ack' }), payload: { acks: { messageIds: [], bundleIds: [] } }, signKey: camp.privateKey, recipient: townRecipient })
  const c = compacted(bundle)
  for (let n = 0; n < c.length; n++) {
    let out: Buffer | undefined
    try {
      out = expandBundle(c.subarray(0, n))
    } catch (err) {
      assert.ok(err instanceof CompactBundleError, `length ${n}: ${(err as Error).message}`)
      assert.match(err.message, /damaged/)
      continue
    }
    // Cut within the age payload the form still reads: the bundle it makes is not the one signed.
    assert.ok(!out.equals(bundle))
    assert.throws(() => verifyBundle(out, (o) => signers.get(o)), BundleError)
  }
})

test('every one-bit change of a compact form is refused, or expands to bytes whose signature fails', async () => {
  const bundle = await sealBundle({ header: header(), payload: { messages: messages([real[1]!]) }, signKey: camp.privateKey, recipient: townRecipient, narrow: { peerHasKey: () => false } })
  const c = compacted(bundle)
  let refused = 0
  let badSignature = 0
  for (let i = 0; i < c.length; i++) {
    const bit = i % 8
    const m = Buffer.from(c)
    m[i]! ^= 1 << bit
    let out: Buffer
    try {
      out = expandBundle(m)
    } catch (err) {
      assert.ok(err instanceof CompactBundleError, `byte ${i}: ${(err as Error).message}`)
      refused++
      continue
    }
    assert.ok(!out.equals(bundle), `byte ${i}: a changed form expanded to the original`)
    assert.throws(() => verifyBundle(out, (o) => signers.get(o)), BundleError, `byte ${i}`)
    badSignature++
  }
  assert.equal(refused + badSignature, c.length)
  assert.ok(refused > 0 && badSignature > 0)
})

test('a compact form of another version, unknown flags or a non-minimal number is refused', async () => {
  const bundle = await sealBundle({ header: header({ kind: 'ack' }), payload: { acks: { messageIds: [], bundleIds: [] } }, signKey: camp.privateKey, recipient: townRecipient })
  const c = compacted(bundle)
  const v2 = Buffer.from(c)
  v2[0] = 2
  assert.throws(() => expandBundle(v2), /compact form version 2/)
  const flags = Buffer.from(c)
  flags[1] = 0x80
  assert.throws(() => expandBundle(flags), /flags 0x80/)
  const both = Buffer.from(c)
  both[1] = 0x03
  assert.throws(() => expandBundle(both), /ack bundle has a narrow payload/)
  // hops is 0, one byte; written as 0x80 0x00 it would be the same number in two bytes.
  const at = 2 + 16 + 1 + 4 + 1 + 4
  const created = c.subarray(at)
  let n = 0
  while (created[n]! & 0x80) n++
  let lifetime = n + 1
  while (created[lifetime]! & 0x80) lifetime++
  const hopsAt = at + lifetime + 1
  assert.equal(c[hopsAt], 0)
  const padded = Buffer.concat([c.subarray(0, hopsAt), Buffer.from([0x80, 0x00]), c.subarray(hopsAt + 1)])
  assert.throws(() => expandBundle(padded), /shortest form/)
})
