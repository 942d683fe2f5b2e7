// The queue views on a large outbox: every hot query is an index seek or an
// index-only scan (never a walk through the outbox's rows), a cursor walks
// every message exactly once in pages of the asked size, and the totals are
// the sums of what was seeded.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb, type Db } from '../../../server/db/index.js'
import { Outbox } from '../../../server/outbox/outbox.js'
import {
  countDue,
  CursorError,
  decodeCursor,
  dueForExport,
  markDeparted,
  outboxTotals,
  peersDue,
  peersWithMail,
  peerTotals,
  QUEUE_SQL,
  queuePage,
  walkQueue,
} from '../../../server/outbox/queue-query.js'
import { resendPolicyFor } from '../../../server/outbox/resend-policy.js'
import { seedMessage, seedOutbox } from '../../helpers/outbox-seed.js'

const N = 20_000
const PEERS = Array.from({ length: 50 }, (_, i) => `peer${String(i).padStart(2, '0')}`)
let dir: string
let db: Db
let ids: string[]

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'op-queue-'))
  db = openDb(join(dir, 'outpost.db'))
  ids = seedOutbox(db, { messages: N, peers: PEERS, start: 1_800_000_000_000, bodyBytes: 200 })
})
after(() => {
  db.$client.close()
  rmSync(dir, { recursive: true, force: true })
})

function plan(sql: string): string[] {
  const params = Array((sql.match(/\?/g) ?? []).length).fill(1)
  return (db.$client.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail)
}

test('every hot query of the outbox goes through an index, never a scan of its rows', () => {
  const hot: Record<string, string> = {
    ...QUEUE_SQL,
    summary: 'SELECT count(*), coalesce(sum(size), 0), min(queued_at) FROM outbox',
    dueForExport: 'SELECT message_id FROM outbox WHERE peer = ? AND (queued_at, message_id) > (?, ?) AND due_at <= ? ORDER BY queued_at, message_id LIMIT ?',
    countDue: 'SELECT count(*) AS n FROM outbox WHERE peer = ? AND due_at <= ?',
    markDeparted: 'UPDATE outbox SET due_at = ? + min(? << min(exports, 30), ?), exports = exports + 1 WHERE peer = ? AND message_id = ?',
    peerHasDue: QUEUE_SQL.peerHasDue,
    acknowledge: 'DELETE FROM outbox WHERE peer = ? AND message_id IN (?, ?)',
  }
  for (const [name, sql] of Object.entries(hot)) {
    const lines = plan(sql).filter((l) => /\b(SCAN|SEARCH) outbox\b/.test(l))
    assert.ok(lines.length, `${name} reads the outbox`)
    for (const l of lines) assert.match(l, /USING (COVERING )?INDEX|USING PRIMARY KEY/, `${name}: ${l}`)
    assert.ok(!plan(sql).some((l) => l.includes('TEMP B-TREE')), `${name} sorts nothing in memory: ${plan(sql).join(' | ')}`)
  }
  // A page is a seek in its index, not a scan from the start.
  for (const name of ['pageAfter', 'peerFirstPage', 'peerPageAfter', 'peerCount', 'peerHasDue'] as const) {
    assert.ok(plan(QUEUE_SQL[name]).some((l) => l.startsWith('SEARCH outbox')), `${name}: ${plan(QUEUE_SQL[name]).join(' | ')}`)
  }
  // The totals read the index alone, never the rows' other columns.
  assert.match(plan(QUEUE_SQL.peerTotals).join(), /COVERING INDEX/)
})

test('the totals are SQL aggregates that add up to what waits', () => {
  const totals = peerTotals(db)
  assert.equal(totals.length, PEERS.length)
  assert.deepEqual(totals.map((t) => t.peer), PEERS)
  assert.ok(totals.every((t) => t.messages === N / PEERS.length))
  const all = outboxTotals(totals)
  assert.equal(all.messages, N)
  assert.equal(all.bytes, ids.reduce((n, _, i) => n + seedMessage(i, 200).length, 0))
  assert.equal(all.oldestAt, 1_800_000_000_000)
  assert.deepEqual(new Outbox(db, dir).summary(), all, 'the dashboard\'s summary says the same')
  assert.deepEqual(peersWithMail(db), PEERS)
})

test('a cursor walks the whole queue exactly once, oldest first, in pages of the asked size', () => {
  const seen = new Set<string>()
  let pages = 0
  let after: string | undefined
  let lastQueuedAt = -Infinity
  for (;;) {
    const page = queuePage(db, { after, limit: 700 })
    pages++
    assert.ok(page.items.length === 700 || !page.next, 'only the last page is short')
    for (const m of page.items) {
      const key = `${m.peer}/${m.messageId}`
      assert.ok(!seen.has(key), `${key} twice`)
      seen.add(key)
      assert.ok(m.queuedAt >= lastQueuedAt, 'oldest first')
      lastQueuedAt = m.queuedAt
    }
    if (!page.next) break
    after = page.next
  }
  assert.equal(seen.size, N)
  assert.equal(pages, Math.ceil(N / 700))
  assert.equal(queuePage(db).items.length, 100, 'the default page')
  assert.equal(queuePage(db, { limit: 1_000_000 }).items.length, 1000, 'a page is never larger than 1000')
})

test('one peer\'s queue pages on its own, and a message queued meanwhile is neither skipped nor shown twice', () => {
  const peer = 'peer07'
  const first = queuePage(db, { peer, limit: 150 })
  assert.equal(first.items.length, 150)
  assert.ok(first.items.every((m) => m.peer === peer))
  // New mail arrives between two pages: it sorts after everything older.
  seedOutbox(db, { messages: 1, peers: [peer], start: 1_900_000_000_000, offset: 10_000_000, bodyBytes: 200 })
  const rest = [...walkQueue(db, { peer, pageSize: 150 })]
  assert.equal(rest.length, N / PEERS.length + 1)
  assert.deepEqual(rest.slice(0, 150).map((m) => m.messageId), first.items.map((m) => m.messageId))
  assert.equal(new Set(rest.map((m) => m.messageId)).size, rest.length)
  assert.throws(() => queuePage(db, { peer: 'peer08', after: first.next! }), CursorError)
  assert.throws(() => decodeCursor('not-a-cursor'), CursorError)
  new Outbox(db, dir).acknowledge(peer, [rest.at(-1)!.messageId])
})

test('an online carrier exports once, then only what its timeout made due; a store carrier everything; nothing leaves the outbox', () => {
  const peer = 'peer11'
  const t0 = 1_900_000_000_000
  const http = resendPolicyFor('http')
  const waiting = N / PEERS.length
  assert.equal(countDue(db, peer, http, t0), waiting)
  // Rows are read a page at a time; marking them between pages keeps the walk whole.
  let n = 0
  const batch: string[] = []
  for (const r of dueForExport(db, peer, http, t0, 64)) {
    batch.push(r.messageId)
    n++
    if (batch.length === 64) markDeparted(db, peer, batch.splice(0), 'bundle-1', 'http', t0)
  }
  markDeparted(db, peer, batch, 'bundle-1', 'http', t0)
  assert.equal(n, waiting)
  assert.equal(countDue(db, peer, http, t0 + 60_000), 0, 'just sent: nothing due')
  assert.equal([...dueForExport(db, peer, resendPolicyFor('usb'), t0 + 60_000)].length, waiting, 'a stick takes it all')
  assert.deepEqual(peersDue(db, t0 + 60_000).includes(peer), false)
  // A stick takes a page of another peer: HTTP would still send those once, but an event run waits the hold.
  const other = queuePage(db, { peer: 'peer12', limit: 10 }).items.map((m) => m.messageId)
  markDeparted(db, 'peer12', other, 'bundle-2', 'usb', t0)
  assert.equal(countDue(db, 'peer12', http, t0 + 1), waiting, 'the stick\'s copy holds no online carrier back')
  assert.ok(peersDue(db, t0 + 1).includes('peer12'), 'other mail of peer12 was never sent')
  assert.equal(countDue(db, peer, http, t0 + 10 * 60_000), waiting, 'due again after the first timeout')
  const shown = queuePage(db, { peer, limit: 1 }).items[0]!
  assert.deepEqual([shown.exports, shown.lastExportAt, shown.lastVia, shown.lastBundleId], [1, t0, 'http', 'bundle-1'])
  assert.equal(outboxTotals(peerTotals(db)).messages, N, 'still all there until acked')
})

test('the per-peer totals kept by triggers always equal a recount, through enqueue, duplicate, ack and discard', () => {
  const recount = () => db.$client.prepare('SELECT peer, count(*) AS messages, sum(size) AS bytes, min(queued_at) AS oldestAt FROM outbox GROUP BY peer ORDER BY peer').all()
  const box = new Outbox(db, dir)
  assert.deepEqual(peerTotals(db), recount())
  seedOutbox(db, { messages: 30, peers: ['peer03', 'newpeer'], offset: 20_000_000, bodyBytes: 50 })
  seedOutbox(db, { messages: 30, peers: ['peer03', 'newpeer'], offset: 20_000_000, bodyBytes: 50 }) // the same again: ignored
  assert.deepEqual(peerTotals(db), recount())
  assert.equal(peerTotals(db).find((t) => t.peer === 'newpeer')!.messages, 15)
  const newIds = queuePage(db, { peer: 'newpeer', limit: 1000 }).items.map((m) => m.messageId)
  box.acknowledge('newpeer', newIds.slice(0, 5))
  box.discard('peer03', queuePage(db, { peer: 'peer03', limit: 1 }).items[0]!.messageId)
  assert.deepEqual(peerTotals(db), recount())
  box.acknowledge('newpeer', newIds)
  assert.ok(!peerTotals(db).some((t) => t.peer === 'newpeer'), 'a peer with nothing waiting has no totals')
  assert.deepEqual(peerTotals(db), recount())
})
