// The Queue page's API: what waits for each peer, in flight or not; retry
// sends exported-but-unacked mail again at once; discard drops one message.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode } from '../../../helpers/ops-admin.js'
import { stableMessageId } from '../../../../server/bundle/message-id.js'
import type { OutpostEvent } from '../../../../server/events/types.js'

test('queue lists waiting mail per peer; retry re-sends what is in flight and runs the transport; discard drops one message', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webq-'))
  const shared = join(dir, 'shared')
  mkdirSync(shared)
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  try {
    assert.equal((await camp.send('POST', '/api/peers', { card: (await town.get('/api/self')).json().card })).statusCode, 200)
    assert.deepEqual((await camp.get('/api/queue')).json(), { peers: [], totals: { messages: 0, bytes: 0 } })
    const ids: string[] = []
    let bytes = 0
    for (const n of [1, 2]) {
      const data = Buffer.from(`Message-ID: <q${n}@camp.test>\r\n\r\nhello ${n}\r\n`)
      ids.push(stableMessageId(data, 'alice@camp.test'))
      bytes += data.length
      camp.services.outbox.enqueue({ messageId: ids.at(-1)!, sender: 'alice@camp.test', data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
    }
    let q = (await camp.get('/api/queue')).json()
    assert.deepEqual(q.totals, { messages: 2, bytes })
    assert.deepEqual(q.peers.map((p: { peer: string; messages: unknown[] }) => [p.peer, p.messages.length]), [['town', 2]])
    assert.deepEqual(q.peers[0].messages.map((m: { bundleId: null; exportedAt: null }) => [m.bundleId, m.exportedAt]), [[null, null], [null, null]], 'not exported yet')

    // An export puts them in flight: each shows the bundle that carries it.
    const t = (await camp.send('POST', '/api/transports', { peer: 'town', kind: 'folder', options: { path: shared }, schedule: '0 6 * * *' })).json()
    await camp.send('POST', `/api/transports/${t.id}/run`)
    const isDone = (e: OutpostEvent) => e.kind === 'transport.run' && (e as OutpostEvent<'transport.run'>).data.phase === 'done'
    await camp.waitFor(isDone)
    q = (await camp.get('/api/queue')).json()
    const flying = q.peers[0].messages
    assert.ok(flying.every((m: { bundleId: string; exportedAt: number }) => m.bundleId && m.exportedAt > 0), 'in flight until town acks')
    assert.equal(camp.services.exchange.peersWithUnsentWork().length, 0, 'just sent: not due again yet')

    // Retry: due again at once, and the transport runs now.
    rmSync(join(shared, 'outpost'), { recursive: true })
    const before = camp.pushed.filter(isDone).length
    let r = await camp.send('POST', '/api/queue/town/retry')
    assert.deepEqual(r.json(), { messages: 2 })
    assert.deepEqual(camp.services.exchange.peersWithUnsentWork(), ['town'])
    await camp.waitFor((e) => isDone(e) && camp.pushed.filter(isDone).length > before)
    assert.equal(readdirSync(join(shared, 'outpost', 'town')).length, 1, 'a new bundle is on the stick')
    assert.equal((await camp.send('POST', '/api/queue/nobody/retry')).statusCode, 404)

    // Discard one: gone from the queue; the other stays.
    r = await camp.send('DELETE', `/api/queue/town/${ids[0]}`)
    assert.equal(r.statusCode, 204)
    q = (await camp.get('/api/queue')).json()
    assert.deepEqual(q.peers[0].messages.map((m: { messageId: string }) => m.messageId), [ids[1]])
    r = await camp.send('DELETE', `/api/queue/town/${ids[0]}`)
    assert.equal(r.statusCode, 404)
    r = await camp.send('DELETE', '/api/queue/town/not-an-id')
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /messageId must match/)
  } finally {
    await Promise.all([camp.close(), town.close()])
    rmSync(dir, { recursive: true, force: true })
  }
})
