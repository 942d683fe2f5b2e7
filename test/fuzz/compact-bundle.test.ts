// Fuzzing the compact carriage form's decoder (server/bundle/compact.ts):
// random bytes, truncations, multi-byte mutations and splices of genuine
// compact forms. The decoder may only refuse with its own error; whatever
// it does expand is checked as an import checks it, and only the original
// bundle's bytes may pass the signature check. The seed is fixed
// (OUTPOST_FUZZ_SEED overrides it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { BundleError, newBundleId, sealBundle, verifyBundle } from '../../server/bundle/format.js'
import { CompactBundleError, compactBundle, expandBundle } from '../../server/bundle/compact.js'
import { stableMessageId } from '../../server/bundle/message-id.js'
import { deltaChatSamples } from '../helpers/deltachat-samples.js'
import { seededRandom } from '../helpers/seeded-random.js'

const SEED = Number(process.env.OUTPOST_FUZZ_SEED ?? 20261207)

test('random, truncated, mutated and spliced compact forms are refused by the decoder\'s own error or fail the signature; only the original passes', async () => {
  const rnd = seededRandom(SEED)
  const int = (n: number) => Math.floor(rnd() * n)
  const camp = generateKeyPairSync('ed25519')
  const recipient = await identityToRecipient(await generateIdentity())
  const now = Date.UTC(2026, 11, 7)
  const header = (kind: 'mail' | 'ack') => ({ id: newBundleId(), kind, origin: 'camp', destination: 'town', created: now, expires: now + 86_400_000, hops: 0, hopLimit: 4 })
  const data = deltaChatSamples()[0]!.data
  const messages = [{ sender: 'alice@camp.test', recipients: ['bob@town.test'], data, id: stableMessageId(data, 'alice@camp.test') }]
  const originals = [
    await sealBundle({ header: header('mail'), payload: { messages }, signKey: camp.privateKey, recipient }),
    await sealBundle({ header: header('mail'), payload: { messages }, signKey: camp.privateKey, recipient, narrow: { peerHasKey: () => false } }),
    await sealBundle({ header: header('ack'), payload: { acks: { messageIds: [messages[0]!.id], bundleIds: [] } }, signKey: camp.privateKey, recipient }),
  ]
  const forms = originals.map((b) => {
    const r = compactBundle(b)
    assert.ok('compact' in r)
    return r.compact
  })
  const signer = (o: string) => (o === 'camp' ? camp.publicKey : undefined)
  const tally = { refused: 0, badSignature: 0, original: 0 }
  for (let n = 0; n < 20_000; n++) {
    const k = int(forms.length)
    const form = forms[k]!
    const pick = rnd()
    let input: Buffer
    if (pick < 0.15) input = Buffer.from(Array.from({ length: int(400) }, () => int(256)))
    else if (pick < 0.3) {
      // Random bytes behind a valid version byte and flags.
      input = Buffer.from(Array.from({ length: int(2000) }, () => int(256)))
      if (input.length > 1) [input[0], input[1]] = [1, int(4)]
    } else if (pick < 0.5) input = form.subarray(0, int(form.length))
    else if (pick < 0.85) {
      input = Buffer.from(form)
      for (let m = 1 + int(4); m > 0; m--) input[int(input.length)] = int(256)
    } else {
      // The head of one genuine form on the tail of another.
      const other = forms[(k + 1) % forms.length]!
      input = Buffer.concat([form.subarray(0, int(form.length)), other.subarray(int(other.length))])
    }
    let out: Buffer
    try {
      out = expandBundle(input)
    } catch (err) {
      assert.ok(err instanceof CompactBundleError, `case ${n}: ${(err as Error).stack}`)
      tally.refused++
      continue
    }
    try {
      verifyBundle(out, signer)
    } catch (err) {
      assert.ok(err instanceof BundleError, `case ${n}: ${(err as Error).stack}`)
      tally.badSignature++
      continue
    }
    assert.ok(originals.some((b) => b.equals(out)), `case ${n}: a compact form expanded to a bundle whose signature checks but that was never sent`)
    tally.original++
  }
  assert.ok(tally.refused > 1000 && tally.badSignature > 1000, JSON.stringify(tally))
})
