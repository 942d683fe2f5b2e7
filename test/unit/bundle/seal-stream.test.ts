// Sealing mail as a stream (sealMailBundle): what the export relies on to
// keep its memory flat however large the outbox. Checked by structure, not
// by measuring memory: every message is handed over in ONE buffer that is
// overwritten for the next, so a seal that kept any message (or the batch)
// around instead of copying it in as it came would put the wrong bytes in
// the bundle, and these tests would see it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { newBundleId, openBundle, sealBundle, sealMailBundle, type BundleHeader, type OpenOptions } from '../../../server/bundle/format.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import type { BsmtpMessage } from '../../../server/bundle/bsmtp.js'

const T0 = Date.UTC(2025, 2, 3, 10, 0, 0)
const alpha = generateKeyPairSync('ed25519')
const betaIdentity = await generateIdentity()
const betaRecipient = await identityToRecipient(betaIdentity)
const signers = new Map<string, KeyObject>([['alpha', alpha.publicKey]])

const header = (): Omit<BundleHeader, 'v' | 'count'> => ({ id: newBundleId(), kind: 'mail', origin: 'alpha', destination: 'beta', created: T0, expires: T0 + 86_400_000, hops: 0, hopLimit: 4 })
const opts: OpenOptions = { signerFor: (o) => signers.get(o), identity: betaIdentity, self: 'beta', now: T0 + 1000, maxBytes: 200 * 1024 * 1024, maxDecompressedBytes: 200 * 1024 * 1024 }

/** Message i's text: distinct per message, with a dot-leading line to stuff, and `size` bytes long. */
function text(i: number, size: number): Buffer {
  const head = `Message-ID: <${i}@alpha.test>\r\nSubject: [...]\r\n\r\n.line ${i}\r\n`
  const fill = `${i.toString(36)}-`.repeat(size)
  return Buffer.from((head + fill).slice(0, size - 2) + '\r\n', 'latin1')
}

/**
 * Yields `n` messages, every one's data in the same buffer, rewritten in
 * place before each yield, and notes how far the seal had asked.
 */
function sharedBuffer(n: number, size: number, asked: { n: number }): { messages: Iterable<BsmtpMessage>; ids: string[] } {
  const buf = Buffer.alloc(size)
  const ids = Array.from({ length: n }, (_, i) => stableMessageId(text(i, size), `user${i}@alpha.test`))
  function* messages(): Generator<BsmtpMessage> {
    for (let i = 0; i < n; i++) {
      text(i, size).copy(buf)
      asked.n = i + 1
      yield { id: ids[i]!, sender: `user${i}@alpha.test`, recipients: [`friend${i}@beta.test`], data: buf }
    }
  }
  return { messages: messages(), ids }
}

test('a mail bundle sealed as a stream from one reused buffer holds every message intact, in order', async () => {
  // 300 messages of 40 KiB: 12 MiB of mail, many times the 256 KiB the seal
  // feeds the compressor at a time, and messages that straddle its pieces.
  const n = 300
  const size = 40 * 1024
  const asked = { n: 0 }
  const { messages, ids } = sharedBuffer(n, size, asked)
  const bytes = await sealMailBundle({ header: header(), messages, count: n, sizeHint: n * size, signKey: alpha.privateKey, recipient: betaRecipient })
  assert.equal(asked.n, n)
  const opened = await openBundle(bytes, opts)
  assert.equal(opened.kind, 'mail')
  if (opened.kind !== 'mail') return
  assert.equal(opened.header.count, n)
  assert.deepEqual(opened.payload.messages.map((m) => m.id), ids)
  for (const [i, m] of opened.payload.messages.entries()) {
    assert.ok(m.data.equals(text(i, size)), `message ${i + 1} comes out as it went in`)
    assert.equal(m.sender, `user${i}@alpha.test`)
  }
})

test('the stream seal and sealBundle write the same format: one reader opens both to the same messages', async () => {
  const asked = { n: 0 }
  const streamed = sharedBuffer(3, 500, asked)
  const a = await sealMailBundle({ header: header(), messages: streamed.messages, count: 3, signKey: alpha.privateKey, recipient: betaRecipient })
  const list = Array.from({ length: 3 }, (_, i) => ({ id: streamed.ids[i]!, sender: `user${i}@alpha.test`, recipients: [`friend${i}@beta.test`], data: text(i, 500) }))
  const b = await sealBundle({ header: header(), payload: { messages: list }, signKey: alpha.privateKey, recipient: betaRecipient })
  const [oa, ob] = [await openBundle(a, opts), await openBundle(b, opts)]
  assert.deepEqual(oa.payload, ob.payload)
})

test('a stream seal stops with the reason when a message cannot be read or the count is wrong, and seals nothing', async () => {
  function* failing(): Generator<BsmtpMessage> {
    const data = text(0, 100)
    yield { id: stableMessageId(data, 'a@alpha.test'), sender: 'a@alpha.test', recipients: ['b@beta.test'], data }
    throw new Error('ENOENT: the spool file of message 2 is gone')
  }
  await assert.rejects(sealMailBundle({ header: header(), messages: failing(), count: 2, signKey: alpha.privateKey, recipient: betaRecipient }), /spool file of message 2 is gone/)
  const asked = { n: 0 }
  await assert.rejects(
    sealMailBundle({ header: header(), messages: sharedBuffer(2, 100, asked).messages, count: 3, signKey: alpha.privateKey, recipient: betaRecipient }),
    /counts 3 messages but 2 were given/,
  )
  await assert.rejects(sealMailBundle({ header: { ...header(), kind: 'ack' }, messages: [], count: 0, signKey: alpha.privateKey, recipient: betaRecipient }), /as mail/)
})
