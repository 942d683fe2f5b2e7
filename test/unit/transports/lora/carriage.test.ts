import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { newBundleId, sealBundle } from '../../../../server/bundle/format.js'
import { expandBundle, isCompactForm } from '../../../../server/bundle/compact.js'
import { CompactCarriage } from '../../../../server/transports/lora/carriage.js'

const signKey = generateKeyPairSync('ed25519').privateKey
const recipient = await identityToRecipient(await generateIdentity())
const bundle = await sealBundle({ header: { id: newBundleId(), kind: 'ack', origin: 'camp', destination: 'town', created: 1_796_000_000_000, expires: 1_796_086_400_000, hops: 0, hopLimit: 4 }, payload: { acks: { messageIds: [], bundleIds: [] } }, signKey, recipient })

test('a peer that has said it takes compact forms gets them, also in a later run that has not heard it yet; one that never said so, or stopped saying so, gets the bundle file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-carriage-'))
  const first = new CompactCarriage(dir)
  assert.ok(first.carried(bundle, undefined).equals(bundle), 'nothing heard yet: the bundle file')
  const c = first.carried(bundle, true)
  assert.ok(isCompactForm(c) && c.length < bundle.length)
  assert.ok(expandBundle(c).equals(bundle))
  assert.ok(first.carried(bundle, true).equals(c), 'the same form each time, so a cut-off transfer resumes')
  assert.ok(existsSync(join(dir, 'takes-compact')))
  const later = new CompactCarriage(dir)
  assert.ok(later.carried(bundle, undefined).equals(c), 'a later run remembers what the peer said')
  assert.ok(later.carried(bundle, false).equals(bundle), 'a peer gone back to an older version')
  assert.ok(new CompactCarriage(dir).carried(bundle, undefined).equals(bundle))
})
