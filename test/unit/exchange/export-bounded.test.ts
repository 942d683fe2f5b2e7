// An export's memory is bounded by one bundle, whatever waits: it reads a
// message from the spool only when the bundle being sealed asks for it, and
// no message of the next bundle before the one before is handed over. Pinned
// by counting spool reads at each hand-over, not by RSS, which depends on the
// machine.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { campKnowingTown } from '../../helpers/exchange-pair.js'
import { BUNDLE_TARGET_BYTES } from '../../../server/exchange/export.js'
import { readBundleHeader } from '../../../server/bundle/format.js'

test('export reads each bundle’s messages only while sealing it, never the next bundle’s ahead', async () => {
  const { x, close } = await campKnowingTown('op-export-bounded-')
  try {
    // A quarter of a bundle each: 10 messages make three bundles (4 + 4 + 2).
    const size = BUNDLE_TARGET_BYTES / 4
    const body = Buffer.alloc(size - 40, 'x')
    const count = 10
    for (let i = 0; i < count; i++) {
      const id = i.toString(16).padStart(64, '0')
      x.outbox.enqueue({ messageId: id, sender: 'alice@camp.test', data: Buffer.concat([Buffer.from(`Subject: ${i}\r\n\r\n`), body]), byPeer: new Map([['town', ['bob@town.test']]]), hops: 0, now: 1_000_000 + i })
    }
    let reads = 0
    const sharedReader = x.outbox.sharedReader.bind(x.outbox)
    x.outbox.sharedReader = () => {
      const read = sharedReader()
      return (id) => (reads++, read(id))
    }
    let handedOver = 0
    const perBundle: number[] = []
    const readsAtSend: number[] = []
    const r = await x.exportPeer('town', async (_name, bytes) => {
      const n = readBundleHeader(bytes).count
      handedOver += n
      perBundle.push(n)
      readsAtSend.push(reads)
      // Every message read so far is in a bundle already handed over or in this one.
      assert.equal(reads, handedOver, `at the hand-over of bundle ${perBundle.length}, ${reads} messages were read for ${handedOver} sealed`)
    })
    assert.equal(r.messages, count)
    assert.deepEqual(perBundle, [4, 4, 2], 'bundles are cut at the target size')
    assert.deepEqual(readsAtSend, [4, 8, 10])
    assert.equal(reads, count, 'each message is read once')
  } finally {
    close()
  }
})
