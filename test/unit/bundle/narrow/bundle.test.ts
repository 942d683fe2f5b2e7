import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { BundleError, newBundleId, openBundle, readBundleHeader, sealBundle, sealMailBundle, NARROW_ENCODING, type OpenOptions } from '../../../../server/bundle/format.js'
import { stableMessageId } from '../../../../server/bundle/message-id.js'
import { foldKey, keyRef } from '../../../../server/bundle/narrow/autocrypt-key.js'
import { deltaChatSamples } from '../../../helpers/deltachat-samples.js'

const camp = generateKeyPairSync('ed25519')
const townIdentity = await generateIdentity()
const townRecipient = await identityToRecipient(townIdentity)
const T0 = Date.UTC(2026, 11, 7, 10)
const header = () => ({ id: newBundleId(), kind: 'mail' as const, origin: 'camp', destination: 'town', created: T0, expires: T0 + 86_400_000, hops: 0, hopLimit: 4 })
const opts = (more: Partial<OpenOptions> = {}): OpenOptions => ({ signerFor: (o) => (o === 'camp' ? camp.publicKey : undefined), identity: townIdentity, self: 'town', now: T0 + 1000, maxBytes: 1 << 24, maxDecompressedBytes: 1 << 24, ...more })

test('a narrow mail bundle of real Delta Chat messages opens to the very bytes sealed, and is smaller than the brotli one', async () => {
  const messages = deltaChatSamples().slice(0, 3).map((s) => ({ sender: s.sender, recipients: ['bob@town.test'], data: s.data, id: stableMessageId(s.data, s.sender) }))
  const narrow = await sealBundle({ header: header(), payload: { messages }, signKey: camp.privateKey, recipient: townRecipient, narrow: { peerHasKey: () => false } })
  const plain = await sealBundle({ header: header(), payload: { messages }, signKey: camp.privateKey, recipient: townRecipient })
  assert.equal(readBundleHeader(narrow).enc, NARROW_ENCODING)
  assert.equal(readBundleHeader(plain).enc, undefined)
  assert.ok(narrow.length < plain.length - 3 * 150, `narrow ${narrow.length}, brotli ${plain.length}`)
  const opened = await openBundle(narrow, opts())
  assert.equal(opened.kind, 'mail')
  if (opened.kind !== 'mail') return
  assert.deepEqual(opened.payload.messages.map((m) => m.id), messages.map((m) => m.id))
  for (const [i, m] of opened.payload.messages.entries()) assert.ok(m.data.equals(messages[i]!.data), `message ${i}`)
})

test('a narrow bundle that refers to a key the destination lost is refused as unknown-key, and one with the key whole opens and hands the key over', async () => {
  const key = randomBytes(400)
  const data = Buffer.from(`From: <alice@camp.test>\r\nAutocrypt: addr=alice@camp.test; prefer-encrypt=mutual; keydata=${foldKey(key, { crlf: true, tab: false, first: 0, lineLength: 76 })}\r\nSubject: hi\r\n\r\nhello\r\n`, 'latin1')
  const messages = [{ sender: 'alice@camp.test', recipients: ['bob@town.test'], data, id: stableMessageId(data, 'alice@camp.test') }]
  let sentWhole: string[] = []
  const whole = await sealMailBundle({ header: header(), messages, count: 1, signKey: camp.privateKey, recipient: townRecipient, narrow: { peerHasKey: () => false, onEncoded: (e) => (sentWhole = [...e.keysSent.keys()]) } })
  assert.deepEqual(sentWhole, [keyRef(key)])
  const opened = await openBundle(whole, opts())
  assert.ok(opened.kind === 'mail' && opened.keys?.get(keyRef(key))?.equals(key))

  const byRef = await sealMailBundle({ header: header(), messages, count: 1, signKey: camp.privateKey, recipient: townRecipient, narrow: { peerHasKey: () => true } })
  assert.ok(byRef.length < whole.length - 350)
  await assert.rejects(openBundle(byRef, opts()), (err: unknown) => err instanceof BundleError && err.reason === 'unknown-key' && err.message.includes(keyRef(key)))
  const again = await openBundle(byRef, opts({ keyFor: (r) => (r === keyRef(key) ? key : undefined) }))
  assert.ok(again.kind === 'mail' && again.payload.messages[0]!.data.equals(data))
})
