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
import { seedOutbox } from '../../../helpers/outbox-seed.js'

test('queue lists waiting mail per peer; retry re-sends what is in flight and runs the transport; discard drops one message', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webq-'))
  const shared = join(dir, 'shared')
  mkdirSync(shared)
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  try {
    assert.equal((await camp.send('POST', '/api/peers', { card: (await town.get('/api/self')).json().card })).statusCode, 200)
    assert.deepEqual((await camp.get('/api/queue')).json(), { peers: [], totals: { messages: 0, bytes: 0 }, items: [], next: null })
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
    assert.deepEqual(q.peers.map((p: { peer: string; messages: number; bytes: number }) => [p.peer, p.messages, p.bytes]), [['town', 2, bytes]])
    assert.deepEqual(q.items.map((m: { bundleId: null; exportedAt: null; via: null }) => [m.bundleId, m.exportedAt, m.via]), [[null, null, null], [null, null, null]], 'not exported yet')

    // An export puts them in flight: each shows the bundle that carries it.
    const t = (await camp.send('POST', '/api/transports', { peer: 'town', kind: 'folder', options: { path: shared }, schedule: '0 6 * * *' })).json()
    await camp.send('POST', `/api/transports/${t.id}/run`)
    const isDone = (e: OutpostEvent) => e.kind === 'transport.run' && (e as OutpostEvent<'transport.run'>).data.phase === 'done'
    await camp.waitFor(isDone)
    q = (await camp.get('/api/queue')).json()
    const flying = q.items
    assert.ok(flying.every((m: { bundleId: string; exportedAt: number; via: string; exports: number }) => m.bundleId && m.exportedAt > 0 && m.via === 'folder' && m.exports === 1), 'in flight until town acks, by the folder carrier')
    assert.equal(camp.services.exchange.peersWithUnsentWork().length, 0, 'just taken: event transports hold off for a while')
    assert.equal(q.items.filter((m: { via: string }) => m.via === 'folder').length, 2)

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
    assert.deepEqual(q.items.map((m: { messageId: string }) => m.messageId), [ids[1]])
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

test('a large queue comes a page at a time: the cursor walks every message once, per peer or across all', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webq-big-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  try {
    const peers = Array.from({ length: 50 }, (_, i) => `p${i}`)
    const n = 20_000
    seedOutbox(camp.node.db, { messages: n, peers, bodyBytes: 100 })
    let r = await camp.get('/api/queue')
    assert.equal(r.statusCode, 200)
    let q = r.json()
    assert.equal(q.totals.messages, n)
    assert.equal(q.peers.length, 50)
    assert.ok(q.peers.every((p: { messages: number }) => p.messages === n / 50))
    assert.equal(q.items.length, 100, 'the first page, not the whole outbox')
    assert.ok(r.body.length < 40_000, `the first page is small: ${r.body.length} bytes`)
    const seen = new Set<string>()
    let pages = 0
    for (let after: string | null = ''; after !== null; pages++) {
      r = await camp.get(`/api/queue?limit=1000${after ? `&after=${after}` : ''}`)
      q = r.json()
      assert.ok(q.items.length === 1000 || q.next === null)
      for (const m of q.items) {
        assert.ok(!seen.has(`${m.peer}/${m.messageId}`), 'no message twice')
        seen.add(`${m.peer}/${m.messageId}`)
      }
      after = q.next
    }
    assert.equal(seen.size, n)
    assert.equal(pages, 20)
    const one = (await camp.get('/api/queue?peer=p7&limit=250')).json()
    assert.equal(one.items.length, 250)
    assert.ok(one.items.every((m: { peer: string }) => m.peer === 'p7'))
    const rest = (await camp.get(`/api/queue?peer=p7&limit=1000&after=${one.next}`)).json()
    assert.equal(rest.items.length, n / 50 - 250)
    assert.equal(rest.next, null)
    assert.equal((await camp.get(`/api/queue?peer=p8&after=${one.next}`)).statusCode, 400, 'a cursor of another peer')
    assert.equal((await camp.get('/api/queue?after=garbage')).statusCode, 400)
    assert.equal((await camp.get('/api/queue?limit=5000')).statusCode, 400, 'a page is at most 1000')
  } finally {
    await camp.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the queue says which messages a narrow carrier holds and why, and when only narrow carriers reach the peer', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webq-narrow-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  try {
    assert.equal((await camp.send('POST', '/api/peers', { card: (await town.get('/api/self')).json().card })).statusCode, 200)
    const never = '0 0 1 1 *'
    assert.equal((await camp.send('POST', '/api/transports', { peer: 'town', kind: 'lora', options: { port: '/dev/ttyACM0' }, schedule: never })).statusCode, 200)
    const ids: string[] = []
    for (const [n, size] of [[1, 300], [2, 40 * 1024]] as const) {
      const data = Buffer.concat([Buffer.from(`Message-ID: <n${n}@camp.test>\r\n\r\n`), Buffer.alloc(size, 'x')])
      ids.push(stableMessageId(data, 'alice@camp.test'))
      camp.services.outbox.enqueue({ messageId: ids.at(-1)!, sender: 'alice@camp.test', data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
    }
    type Q = { peers: { held: number; heldOnlyNarrow: number; holdNote: string | null }[]; items: { messageId: string; held: { kind: string; reason: string } | null }[] }
    let q = (await camp.get('/api/queue')).json() as Q
    const heldOf = (id: string) => q.items.find((m) => m.messageId === id)!.held
    assert.equal(heldOf(ids[0]!), null, 'a short message goes by radio')
    assert.equal(heldOf(ids[1]!)?.kind, 'only-narrow')
    assert.match(heldOf(ids[1]!)!.reason, /^held: only narrow carriers reach town; add a wider one, or raise the limit/)
    assert.deepEqual([q.peers[0]!.held, q.peers[0]!.heldOnlyNarrow], [1, 1])
    assert.match(q.peers[0]!.holdNote!, /only narrow carriers reach town/)

    // A stick to town: the large message is held for it.
    assert.equal((await camp.send('POST', '/api/transports', { peer: 'town', kind: 'folder', options: { path: dir }, schedule: never })).statusCode, 200)
    q = (await camp.get('/api/queue')).json() as Q
    assert.equal(heldOf(ids[1]!)?.kind, 'wider')
    assert.match(heldOf(ids[1]!)!.reason, /held for a wider carrier \(folder #2\)/)
    assert.deepEqual([q.peers[0]!.held, q.peers[0]!.heldOnlyNarrow], [1, 0])
  } finally {
    await camp.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
