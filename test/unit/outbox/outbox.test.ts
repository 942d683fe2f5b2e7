// The outbox on a fresh database with the real migrations and a real spool
// folder: a message waits once per peer, a retry queues nothing twice, and
// the file goes only when the last peer that waited for it has acked it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { Outbox, WORK_SIGNAL } from '../../../server/outbox/outbox.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import type { EventRecorder } from '../../../server/events/record.js'
import { EVENT_HOLD_MS } from '../../../server/outbox/resend-policy.js'

const message = Buffer.from('From: alice@camp.test\r\nTo: bob@river.test, carol@town.test\r\nMessage-ID: <1@camp.test>\r\nSubject: hi\r\n\r\nhello\r\n')
const id = stableMessageId(message, 'alice@camp.test')

function fresh() {
  const dir = mkdtempSync(join(tmpdir(), 'op-outbox-'))
  const spool = join(dir, 'spool')
  mkdirSync(spool)
  const queued: { kind: string; peer: string }[] = []
  const events: EventRecorder = { record: (kind, data) => queued.push({ kind, peer: (data as { peer: string }).peer }) }
  return { dir, spool, queued, outbox: new Outbox(openDb(join(dir, 'outpost.db')), spool, events) }
}

test('a message waits for each of its peers, with its recipients, and a retry queues nothing twice', () => {
  const { dir, spool, queued, outbox } = fresh()
  try {
    const byPeer = new Map([['river', ['bob@river.test']], ['town', ['carol@town.test']]])
    outbox.enqueue({ messageId: id, sender: 'alice@camp.test', data: message, byPeer, hops: 0, now: 1000 })
    outbox.enqueue({ messageId: id, sender: 'alice@camp.test', data: message, byPeer, hops: 0, now: 2000 })
    assert.deepEqual(outbox.waiting().map((e) => [e.peer, e.recipients, e.queuedAt]), [['river', ['bob@river.test'], 1000], ['town', ['carol@town.test'], 1000]])
    assert.deepEqual(outbox.peersWithMail().sort(), ['river', 'town'])
    assert.deepEqual(queued.map((q) => `${q.kind} ${q.peer}`).sort(), ['message.queued river', 'message.queued town'], 'queued is reported once per peer')
    assert.deepEqual(outbox.read(id), message)
    assert.deepEqual(outbox.summary(), { messages: 2, bytes: 2 * message.length, oldestAt: 1000 })
    // Besides the message, only the work signal a running node's scheduler watches.
    assert.deepEqual(readdirSync(spool), [WORK_SIGNAL, `${id}.eml`])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('exported mail is due again only after the hold that follows a departure; the file goes with the last ack', () => {
  const { dir, spool, outbox } = fresh()
  try {
    outbox.enqueue({ messageId: id, sender: 'alice@camp.test', data: message, byPeer: new Map([['river', ['bob@river.test']], ['town', ['carol@town.test']]]), hops: 0, now: 1000 })
    outbox.markExported('river', [id], 'b1', 5000)
    assert.deepEqual(outbox.peersDue(5000 + EVENT_HOLD_MS - 1).sort(), ['town'], 'river, just exported, is held')
    assert.deepEqual(outbox.peersDue(5000 + EVENT_HOLD_MS).sort(), ['river', 'town'])
    assert.equal(outbox.acknowledge('river', [id]), 1)
    assert.equal(existsSync(join(spool, `${id}.eml`)), true, 'town still waits for the file')
    assert.equal(outbox.discard('town', id), true)
    assert.equal(existsSync(join(spool, `${id}.eml`)), false)
    assert.deepEqual(outbox.waiting(), [])
    assert.equal(outbox.discard('town', id), false)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the export reads every message into one shared buffer, each whole, however their sizes differ', () => {
  const { dir, outbox } = fresh()
  try {
    const texts = [message, Buffer.alloc(100_000, 'x'), Buffer.from('short\r\n')]
    const ids = texts.map((data, i) => {
      const mid = stableMessageId(data, `s${i}@camp.test`)
      outbox.enqueue({ messageId: mid, sender: `s${i}@camp.test`, data, byPeer: new Map([['river', ['bob@river.test']]]), hops: 0, now: 1000 + i })
      return mid
    })
    const read = outbox.sharedReader()
    const got = ids.map((mid) => read(mid))
    // The last read decides what the shared buffer holds now; each was whole when it was read.
    assert.deepEqual(got[2], texts[2])
    assert.equal(got[1]!.buffer, got[2]!.buffer, 'a smaller message reuses the buffer the larger one grew')
    const again = read(ids[1]!)
    assert.deepEqual(again, texts[1])
    assert.equal(again.buffer, got[2]!.buffer)
    assert.throws(() => read(stableMessageId(Buffer.from('gone'), 'x@camp.test')), /ENOENT/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
