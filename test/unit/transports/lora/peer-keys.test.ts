// What camp believes town holds of the Autocrypt keys it sent by radio:
// only keys in bundles town took in, kept across restarts, and all
// forgotten when town refuses a bundle.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PeerKeys } from '../../../../server/transports/lora/peer-keys.js'

test('a key counts as held only once the bundle carrying it was taken in, survives a restart, and is forgotten on a refusal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-peer-keys-'))
  try {
    const file = join(dir, 'peer-keys.json')
    const k = new PeerKeys(file)
    k.sent('0001-a.obundle', ['aa'.repeat(12)])
    assert.equal(k.has('aa'.repeat(12)), false, 'sent is not held')
    k.taken('0002-other.obundle')
    assert.equal(k.has('aa'.repeat(12)), false)
    k.taken('0001-a.obundle')
    assert.equal(k.has('aa'.repeat(12)), true)
    assert.equal(new PeerKeys(file).has('aa'.repeat(12)), true, 'kept across a restart')
    k.sent('0003-b.obundle', ['bb'.repeat(12)])
    k.forget()
    k.taken('0003-b.obundle')
    assert.equal(k.has('aa'.repeat(12)), false)
    assert.equal(k.has('bb'.repeat(12)), false, 'a bundle sealed before the refusal does not make its keys held')
    writeFileSync(file, '{not json')
    assert.equal(new PeerKeys(file).has('aa'.repeat(12)), false, 'an unreadable file means knowing nothing: keys go whole')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
