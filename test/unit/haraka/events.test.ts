// What the Haraka process reports, and that reporting never holds a
// delivery up: events are written after the answer, and a locked database
// loses the event, not the message or the client's time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { EventLog } from '../../../server/events/log.js'
import { DeferredEvents, deliveryEvents, EVENT_BUSY_TIMEOUT_MS } from '../../../server/haraka/lib/events.js'

const m = { messageId: 'a'.repeat(64), from: 'alice@camp.test', to: ['bob@camp.test', 'carol@camp.test'], size: 123 }

test('a 250 is accepted; each mailbox that stored the message is a delivery, also when another recipient failed', () => {
  const ok = (recipient: string) => ({ recipient, code: 250, enhanced: '2.0.0', text: 'Saved', afterData: true })
  assert.deepEqual(deliveryEvents(m, { verdict: 'delivered', results: [ok('bob@camp.test'), ok('carol@camp.test')] }), [
    { kind: 'message.accepted', data: m },
    { kind: 'message.delivered', data: { messageId: m.messageId, recipient: 'bob@camp.test', via: 'smtp' } },
    { kind: 'message.delivered', data: { messageId: m.messageId, recipient: 'carol@camp.test', via: 'smtp' } },
  ])
  assert.deepEqual(deliveryEvents(m, { verdict: 'retry', results: [ok('bob@camp.test'), { recipient: 'carol@camp.test', code: 452, enhanced: '4.2.2', text: 'Quota', afterData: true }] }), [
    { kind: 'message.delivered', data: { messageId: m.messageId, recipient: 'bob@camp.test', via: 'smtp' } },
  ])
  // Queued for a peer only: accepted, nothing delivered here.
  assert.deepEqual(deliveryEvents(m, { verdict: 'delivered' }), [{ kind: 'message.accepted', data: m }])
  assert.deepEqual(deliveryEvents(m, { verdict: 'rejected', results: [] }), [])
})

test('events are written after the current turn; a locked database drops them quickly and logs why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-hev-'))
  try {
    const path = join(dir, 'db.sqlite')
    const db = openDb(path)
    const log = new EventLog(db)
    const errors: string[] = []
    const deferred = new DeferredEvents(() => path, (l) => errors.push(l))
    deferred.record('message.accepted', m)
    assert.equal(log.recent().length, 0, 'nothing is written while the hook answers')
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(log.recent().map((e) => e.kind), ['message.accepted'])

    // Another process holds the write lock (a long import, say).
    db.$client.exec('BEGIN IMMEDIATE')
    const t0 = Date.now()
    deferred.record('message.delivered', { messageId: m.messageId, recipient: 'bob@camp.test', via: 'smtp' })
    assert.equal(deferred.flush(), 0)
    const waited = Date.now() - t0
    assert.ok(waited < EVENT_BUSY_TIMEOUT_MS + 500, `waited ${waited} ms for the lock`)
    assert.match(errors.join('\n'), /could not record the event message\.delivered.*locked/)
    db.$client.exec('COMMIT')
    assert.equal(log.recent().length, 1)
    db.$client.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("a turn's events are written together; one that cannot be written is dropped alone", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-hev-'))
  try {
    const path = join(dir, 'db.sqlite')
    const db = openDb(path)
    const errors: string[] = []
    const deferred = new DeferredEvents(() => path, (l) => errors.push(l))
    deferred.record('message.accepted', m)
    // Not JSON: its insert fails inside the turn's transaction.
    deferred.record('message.accepted', { ...m, size: 1n as unknown as number })
    deferred.record('message.delivered', { messageId: m.messageId, recipient: 'bob@camp.test', via: 'smtp' })
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(new EventLog(db).recent().map((e) => e.kind).sort(), ['message.accepted', 'message.delivered'])
    assert.equal(errors.length, 1)
    assert.match(errors[0]!, /could not record the event message\.accepted.*BigInt/)
    db.$client.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
