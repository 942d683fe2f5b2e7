// An export that seals one bundle at a time, as the radio asks for: each
// call chooses afresh, so a chat message queued after the first call goes
// before larger mail chosen earlier; and a bundle holds at most the bytes
// asked for, a larger message alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { campKnowingTown } from '../../helpers/exchange-pair.js'
import { randomBytes } from 'node:crypto'

test('one bundle a call, chosen afresh: a chat message queued later goes before medium mail; a bundle holds at most bundleBytes', async () => {
  const { node, x, close } = await campKnowingTown('op-export-plan-')
  try {
    let now = 1_000_000_000_000
    const enqueue = (name: string, bytes: number) =>
      x.outbox.enqueue({ messageId: name.padEnd(64, '0'), sender: 'alice@camp.test', data: Buffer.from(`Subject: ${name}\r\n\r\n${randomBytes(bytes).toString('hex').slice(0, bytes)}\r\n`), byPeer: new Map([['town', ['bob@town.test']]]), hops: 0, now: now++ })
    for (const n of ['a1', 'a2', 'a3']) enqueue(n, 20 * 1024)
    const link = { narrow: true, maxMessageBytes: 32 * 1024 }
    const sealed: string[][] = []
    const seen = new Set<string>()
    const once = async (opts: { bundleBytes?: number } = {}) => {
      const r = await x.exportPeer('town', async () => undefined, { via: 'lora', link, maxMailBundles: 1, now, ...opts })
      const ids = node.db.$client.prepare('SELECT message_id AS id FROM outbox WHERE exports > 0 ORDER BY message_id').all() as { id: string }[]
      const fresh = ids.map((i) => i.id.slice(0, 2)).filter((i) => !seen.has(i))
      for (const i of fresh) seen.add(i)
      sealed.push(fresh)
      return r
    }
    // 25 KiB a bundle: one medium message each.
    const medium = { bundleBytes: 25 * 1024 }
    assert.equal((await once(medium)).bundles, 1)
    // A chat message comes in while that bundle is on the air.
    enqueue('c1', 300)
    await once(medium)
    await once(medium)
    await once(medium)
    assert.deepEqual(sealed, [['a1'], ['c1'], ['a2'], ['a3']])
    assert.equal((await once(medium)).bundles, 0, 'nothing left due')

    // bundleBytes: two chat messages of about 1 KiB fit in 2.5 KiB, the third goes next; one larger than the bound goes alone.
    for (const n of ['d1', 'd2', 'd3']) enqueue(n, 1000)
    enqueue('e1', 4000)
    const r = await once({ bundleBytes: 2500 })
    assert.equal(r.messages, 2)
    assert.equal((await once({ bundleBytes: 2500 })).messages, 1)
    assert.equal((await once({ bundleBytes: 2500 })).messages, 1, 'a message over the bound goes alone')
    assert.deepEqual(sealed.slice(-3), [['d1', 'd2'], ['d3'], ['e1']])
  } finally {
    close()
  }
})
