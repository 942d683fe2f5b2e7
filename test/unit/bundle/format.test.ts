import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { constants as zlibConstants, createBrotliCompress } from 'node:zlib'
import { Encrypter, generateIdentity, identityToRecipient } from 'age-encryption'
import {
  BundleError,
  FRAME_BYTES,
  assembleBundle,
  bundleFileName,
  newBundleId,
  openBundle,
  readBundleHeader,
  sealBundle,
  verifyBundle,
  type BundleErrorReason,
  type BundleHeader,
  type OpenOptions,
  MAX_ACK_IDS,
} from '../../../server/bundle/format.js'
import { isFinishedBundleName, stickFolder } from '../../../server/bundle/stick-layout.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import { messageKey } from '../../../server/bundle/message-id.js'
import type { BsmtpMessage } from '../../../server/bundle/bsmtp.js'

const T0 = Date.UTC(2025, 2, 3, 10, 0, 0)
const DAY = 86_400_000

const alpha = generateKeyPairSync('ed25519')
const gamma = generateKeyPairSync('ed25519')
const betaIdentity = await generateIdentity()
const betaRecipient = await identityToRecipient(betaIdentity)
const peers = new Map<string, KeyObject>([['alpha', alpha.publicKey], ['gamma', gamma.publicKey]])

function message(n: number, body = `-----BEGIN PGP MESSAGE-----\r\n\r\nwcFMA${n}\r\n-----END PGP MESSAGE-----\r\n`): BsmtpMessage {
  const sender = `user${n}@alpha.test`
  const data = Buffer.from(`Message-ID: <${n}@alpha.test>\r\nFrom: <${sender}>\r\nSubject: [...]\r\n\r\n${body}`, 'latin1')
  return { sender, recipients: [`friend${n}@beta.test`], data, id: stableMessageId(data, sender) }
}

function header(over: Partial<BundleHeader> = {}): Omit<BundleHeader, 'v' | 'count'> {
  return { id: newBundleId(), kind: 'mail', origin: 'alpha', destination: 'beta', created: T0, expires: T0 + 30 * DAY, hops: 0, hopLimit: 4, ...over }
}

const opts = (over: Partial<OpenOptions> = {}): OpenOptions => ({
  signerFor: (o) => peers.get(o),
  identity: betaIdentity,
  self: 'beta',
  now: T0 + DAY,
  maxBytes: 100 * 1024 * 1024,
  maxDecompressedBytes: 50 * 1024 * 1024,
  ...over,
})

async function refusal(p: Promise<unknown>): Promise<BundleError> {
  try {
    await p
  } catch (err) {
    if (err instanceof BundleError) return err
    throw err
  }
  assert.fail('the bundle was opened but should have been refused')
}

async function reasonOf(bytes: Buffer, o: Partial<OpenOptions> = {}): Promise<BundleErrorReason> {
  return (await refusal(openBundle(bytes, opts(o)))).reason
}

const mailBundle = (over: Partial<BundleHeader> = {}, messages = [message(1), message(2)]) =>
  sealBundle({ header: header(over), payload: { messages }, signKey: alpha.privateKey, recipient: betaRecipient })

test('a mail bundle opens at its destination with every message, envelope and id intact', async () => {
  const messages = [message(1), message(2, '.dot\r\n.\r\n'), { ...message(3), sender: '' }]
  const h = header()
  const bytes = await sealBundle({ header: h, payload: { messages }, signKey: alpha.privateKey, recipient: betaRecipient })
  const opened = await openBundle(bytes, opts())
  assert.equal(opened.header.kind, 'mail')
  assert.deepEqual(opened.header, { ...h, v: 1, count: 3 })
  assert.ok(opened.kind === 'mail')
  assert.equal(opened.payload.messages.length, 3)
  for (const [i, m] of messages.entries()) {
    const got: BsmtpMessage = opened.payload.messages[i]!
    assert.equal(got.id, m.id)
    assert.equal(got.sender, m.sender)
    assert.deepEqual(got.recipients, m.recipients)
    assert.ok(got.data.equals(m.data))
  }
  // The payload is really encrypted: the body text is nowhere in the file.
  assert.equal(bytes.indexOf('wcFMA1'), -1)
  assert.equal(bytes.indexOf('friend1@beta.test'), -1)
})

test('an ack bundle carries message ids and bundle ids', async () => {
  const acks = { messageIds: [message(1).id, message(2).id], bundleIds: [newBundleId()] }
  const bytes = await sealBundle({ header: header({ kind: 'ack' }), payload: { acks }, signKey: alpha.privateKey, recipient: betaRecipient })
  const opened = await openBundle(bytes, opts())
  assert.equal(opened.header.kind, 'ack')
  assert.equal(opened.header.count, 3)
  assert.deepEqual(opened.payload, { acks })
})

test('an ack bundle with more ids than a node takes at once is refused from its signed header, before it is opened', async () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(64, '0'))
  const over = await sealBundle({ header: header({ kind: 'ack' }), payload: { acks: { messageIds: ids(MAX_ACK_IDS + 1), bundleIds: [] } }, signKey: alpha.privateKey, recipient: betaRecipient })
  // Refused even with an identity that cannot decrypt it: nothing past the header is touched.
  const err = await refusal(openBundle(over, opts({ identity: await generateIdentity() })))
  assert.equal(err.reason, 'too-large')
  assert.match(err.message, new RegExp(`acknowledges ${MAX_ACK_IDS + 1} messages, more than the ${MAX_ACK_IDS}`))
  const atLimit = await sealBundle({ header: header({ kind: 'ack' }), payload: { acks: { messageIds: ids(MAX_ACK_IDS), bundleIds: [] } }, signKey: alpha.privateKey, recipient: betaRecipient })
  const opened = await openBundle(atLimit, opts())
  assert.equal(opened.header.count, MAX_ACK_IDS)
})

test('the stable id of a bundled message is the delivery ledger key, before and after the trip', async () => {
  const m = message(7)
  assert.equal(m.id, messageKey(m.data, m.sender))
  const opened = await openBundle(await mailBundle({}, [m]), opts())
  assert.ok(opened.kind === 'mail')
  const got: BsmtpMessage = opened.payload.messages[0]!
  assert.equal(stableMessageId(got.data, got.sender), messageKey(m.data, m.sender))
  // A Received header added by a hop does not change it.
  const hopped = Buffer.concat([Buffer.from('Received: from alpha by beta; Mon, 3 Mar 2025 10:00:00 +0000\r\n'), got.data])
  assert.equal(stableMessageId(hopped, got.sender), m.id)
})

test('a relay reads and verifies a bundle for another node without its key, and cannot open it', async () => {
  const bytes = await mailBundle({ destination: 'delta' })
  const h = readBundleHeader(bytes)
  assert.equal(h.destination, 'delta')
  assert.deepEqual(verifyBundle(bytes, (o) => peers.get(o)), h)
  const e = await refusal(openBundle(bytes, opts()))
  assert.equal(e.reason, 'not-for-us')
  assert.match(e.message, /is for node "delta", not this node \("beta"\); carry it on/)
})

test('a truncated bundle is reported as truncated, wherever it was cut', async () => {
  const bytes = await mailBundle()
  for (const len of [0, 5, FRAME_BYTES - 1, FRAME_BYTES + 3, Math.floor(bytes.length / 2), bytes.length - 64, bytes.length - 1]) {
    const e = await refusal(openBundle(bytes.subarray(0, len), opts()))
    assert.equal(e.reason, 'truncated', `cut at ${len} of ${bytes.length}: ${e.message}`)
    assert.match(e.message, /copy it again/)
  }
  assert.equal(await reasonOf(Buffer.concat([bytes, Buffer.from('x')])), 'corrupt')
})

test('one flipped bit anywhere in the file is caught before decryption', async () => {
  const acks = { messageIds: [message(1).id], bundleIds: [] }
  const bytes = await sealBundle({ header: header({ kind: 'ack' }), payload: { acks }, signKey: alpha.privateKey, recipient: betaRecipient })
  const originAt = bytes.indexOf('"origin":"alpha"') + '"origin":"'.length
  const seen = new Map<string, number>()
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes)
    copy[i]! ^= 0x04
    const reason = await reasonOf(copy)
    seen.set(reason, (seen.get(reason) ?? 0) + 1)
    // A flip inside the origin's name makes it name a node nobody knows.
    const allowed = i >= originAt && i < originAt + 5 ? ['corrupt', 'bad-signature', 'unknown-signer'] : ['corrupt', 'bad-signature']
    assert.ok(allowed.includes(reason), `flip at byte ${i} of ${bytes.length} gave "${reason}"`)
  }
  assert.ok((seen.get('bad-signature') ?? 0) > bytes.length / 2, JSON.stringify([...seen]))
})

test('a bundle from a node that is not a peer, or signed by the wrong key, is refused', async () => {
  const stranger = await sealBundle({ header: header({ origin: 'mallory' }), payload: { messages: [message(1)] }, signKey: alpha.privateKey, recipient: betaRecipient })
  const e = await refusal(openBundle(stranger, opts()))
  assert.equal(e.reason, 'unknown-signer')
  assert.match(e.message, /"mallory" is not a known peer of this node/)
  // gamma is a peer, but this bundle claims to come from alpha.
  const forged = await sealBundle({ header: header(), payload: { messages: [message(1)] }, signKey: gamma.privateKey, recipient: betaRecipient })
  assert.equal(await reasonOf(forged), 'bad-signature')
})

test('an expired bundle is refused, with both clocks in the message', async () => {
  const bytes = await mailBundle({ expires: T0 + DAY })
  const e = await refusal(openBundle(bytes, opts({ now: T0 + 2 * DAY })))
  assert.equal(e.reason, 'expired')
  assert.match(e.message, /expired at 2025-03-04T10:00:00.000Z \(this node's clock says 2025-03-05T10:00:00.000Z\)/)
})

test('a bundle past its hop limit is refused', async () => {
  const h: BundleHeader = { ...header(), v: 1, count: 0, hops: 5, hopLimit: 4 }
  const e = new Encrypter()
  e.addRecipient(betaRecipient)
  const bytes = assembleBundle(h, await e.encrypt(new Uint8Array(0)), alpha.privateKey)
  assert.equal(await reasonOf(bytes), 'hop-limit')
  await assert.rejects(mailBundle({ hops: 5, hopLimit: 4 }), /above its hop limit/)
})

test('a file over the size limit is refused before it is read', async () => {
  const bytes = await mailBundle()
  assert.equal(await reasonOf(bytes, { maxBytes: bytes.length - 1 }), 'too-large')
})

test('a decompression bomb is refused at the limit, quickly and without unpacking it', async () => {
  // 200 MB of zeros, compressed without ever holding them.
  const compressed = await new Promise<Buffer>((resolve, reject) => {
    const z = createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } })
    const out: Buffer[] = []
    z.on('data', (c: Buffer) => out.push(c)).on('end', () => resolve(Buffer.concat(out))).on('error', reject)
    const mb = Buffer.alloc(1024 * 1024)
    let left = 200
    const pump = () => {
      while (left > 0) {
        left--
        if (!z.write(mb)) return void z.once('drain', pump)
      }
      z.end()
    }
    pump()
  })
  const e = new Encrypter()
  e.addRecipient(betaRecipient)
  const bytes = assembleBundle({ ...header(), v: 1, count: 1 }, await e.encrypt(compressed), alpha.privateKey)
  assert.ok(bytes.length < 1024 * 1024, `the bomb is ${bytes.length} bytes`)

  const before = process.memoryUsage()
  const started = performance.now()
  const err = await refusal(openBundle(bytes, opts({ maxDecompressedBytes: 50 * 1024 * 1024 })))
  const took = performance.now() - started
  const after = process.memoryUsage()
  assert.equal(err.reason, 'too-large')
  assert.match(err.message, /unpacks to more than this node's limit of 52428800 bytes/)
  assert.ok(took < 5000, `took ${took} ms`)
  // Never the 200 MB: at most the 50 MB limit and some chunks are held.
  assert.ok(after.rss - before.rss < 150 * 1024 * 1024, `rss grew by ${((after.rss - before.rss) / 1e6).toFixed(0)} MB`)
})

test('a bundle encrypted to an old key of ours says which key the origin should use', async () => {
  const bytes = await sealBundle({ header: header(), payload: { messages: [message(1)] }, signKey: alpha.privateKey, recipient: await identityToRecipient(await generateIdentity()) })
  const e = await refusal(openBundle(bytes, opts()))
  assert.equal(e.reason, 'not-for-us')
  assert.ok(e.message.includes(betaRecipient), e.message)
  assert.match(e.message, /"alpha" has an old or wrong key for this node/)
})

test('a header that miscounts its payload is refused as malformed', async () => {
  const e = new Encrypter()
  e.addRecipient(betaRecipient)
  const { brotliCompressSync } = await import('node:zlib')
  const { writeBsmtp } = await import('../../../server/bundle/bsmtp.js')
  const plain = brotliCompressSync(writeBsmtp([message(1)]))
  const bytes = assembleBundle({ ...header(), v: 1, count: 2 }, await e.encrypt(plain), alpha.privateKey)
  const err = await refusal(openBundle(bytes, opts()))
  assert.equal(err.reason, 'malformed')
  assert.match(err.message, /counts 2 messages but the payload holds 1/)
})

test('bundle file names and stick folders follow the documented layout', () => {
  const h = { origin: 'alpha', destination: 'beta', created: Date.UTC(2025, 2, 3, 10, 4, 5, 678), id: '0123456789abcdef0123456789abcdef' }
  assert.equal(bundleFileName(h), 'alpha--beta--20250303T100405Z--0123456789abcdef0123456789abcdef.obundle')
  assert.equal(stickFolder('/media/stick', 'beta'), '/media/stick/outpost/beta')
  assert.ok(isFinishedBundleName(bundleFileName(h)))
  assert.ok(!isFinishedBundleName(`.${bundleFileName(h)}.1234.tmp`))
  assert.ok(!isFinishedBundleName(`${bundleFileName(h)}.tmp`))
  assert.ok(!isFinishedBundleName('notes.txt'))
  assert.throws(() => stickFolder('/media/stick', '../etc'), /not a node name/)
})

test('sealing refuses what could not be opened: bad recipient, wrong key type, bad node name', async () => {
  await assert.rejects(sealBundle({ header: header(), payload: { messages: [] }, signKey: alpha.privateKey, recipient: 'age1nope' }), /is not an age recipient/)
  await assert.rejects(sealBundle({ header: header(), payload: { messages: [] }, signKey: alpha.publicKey, recipient: betaRecipient }), /Ed25519 private key/)
  await assert.rejects(sealBundle({ header: header({ origin: 'Alpha Camp' }), payload: { messages: [] }, signKey: alpha.privateKey, recipient: betaRecipient }), /"origin" is not a node name/)
  await assert.rejects(sealBundle({ header: header({ kind: 'ack' }), payload: { messages: [] }, signKey: alpha.privateKey, recipient: betaRecipient }), /needs a payload with "acks"/)
})

test('the most an imported bundle may unpack to fits a 1 GB Pi and still holds the largest message, dot-stuffed', async () => {
  const { MAX_DECOMPRESSED_BYTES, MAX_BUNDLE_FILE_BYTES } = await import('../../../server/exchange/import.js')
  const { defaults } = await import('../../../server/config/schema.js')
  const largest = defaults('camp.test').limits.max_message_bytes
  assert.ok(MAX_DECOMPRESSED_BYTES <= 64 * 1024 * 1024, `${MAX_DECOMPRESSED_BYTES} bytes unpacked, with the bundle and the parsed mail beside it, is too much for a Pi`)
  assert.ok(MAX_DECOMPRESSED_BYTES >= Math.ceil((largest * 4) / 3) + 64 * 1024, 'a bundle of one largest message, every line dot-stuffed, still opens')
  assert.ok(MAX_BUNDLE_FILE_BYTES > MAX_DECOMPRESSED_BYTES && MAX_BUNDLE_FILE_BYTES <= 96 * 1024 * 1024)
})
