// The bundle exchange reports what it does: two node dirs swap mail and acks
// through a folder, and each node's events table tells the story a person
// reads on the activity page.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import type { EventKind, OutpostEvent } from '../../../server/events/types.js'
import { twoPeeredNodes } from '../../helpers/exchange-pair.js'

function kinds(events: OutpostEvent[]): Partial<Record<EventKind, number>> {
  const out: Partial<Record<EventKind, number>> = {}
  for (const e of events) out[e.kind] = (out[e.kind] ?? 0) + 1
  return out
}

function mail(n: number): { id: string; data: Buffer } {
  const data = Buffer.from(`From: alice@camp.test\r\nTo: bob@town.test\r\nMessage-ID: <m${n}@camp.test>\r\nSubject: hi\r\n\r\nhello ${n}\r\n`)
  return { id: stableMessageId(data, 'alice@camp.test'), data }
}

test('export and import between two nodes record queued, exported, imported, delivered, acked and quarantined', async () => {
  const { dir, cx, tx, campLog, townLog, lmtp, close } = await twoPeeredNodes('op-xev-')
  const stick = join(dir, 'stick')
  mkdirSync(stick)
  try {
    const msgs = [mail(1), mail(2)]
    for (const m of msgs) cx.outbox.enqueue({ messageId: m.id, sender: 'alice@camp.test', data: m.data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
    // A client's retry of the same message queues nothing twice, and reports nothing twice.
    cx.outbox.enqueue({ messageId: msgs[0]!.id, sender: 'alice@camp.test', data: msgs[0]!.data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
    assert.deepEqual(kinds(campLog.recent()), { 'message.queued': 2 })

    const exported = await cx.exportTo(stick)
    assert.equal(exported[0]?.messages, 2)
    const out = campLog.recent({ kinds: ['bundle.exported'] })
    assert.equal(out.length, 1)
    assert.deepEqual({ ...out[0]!.data, bundleId: undefined }, { peer: 'town', bundleId: undefined, messages: 2, bytes: exported[0]!.bytes, via: 'folder' })

    // A bad bundle beside the good one: quarantined, and reported with its reason.
    writeFileSync(join(stick, 'outpost', 'town', '00000000-bad.obundle'), 'not a bundle')
    await tx.importFrom(stick, undefined, { via: 'usb' })
    const t = townLog.recent()
    assert.deepEqual(kinds(t), { 'bundle.quarantined': 1, 'bundle.imported': 1, 'message.delivered': 2, 'import.run': 2 })
    // The run's start and end are kept (its progress is only pushed live): the end counts the messages handled.
    const run = t.filter((e) => e.kind === 'import.run').map((e) => (e as OutpostEvent<'import.run'>).data)
    assert.deepEqual(run.map((d) => [d.phase, d.via, d.messages]).reverse(), [['start', 'usb', 0], ['done', 'usb', 2]])
    const imported = t.find((e) => e.kind === 'bundle.imported')!.data
    assert.deepEqual({ ...imported, bundleId: undefined }, { peer: 'camp', bundleId: undefined, messages: 2, duplicates: 0, via: 'usb' })
    assert.deepEqual(
      t.filter((e) => e.kind === 'message.delivered').map((e) => e.data).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      msgs.map((m) => ({ messageId: m.id, recipient: 'bob@town.test', via: 'usb' })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    )
    assert.equal(lmtp.stored.length, 2, 'each message stored once')

    // Acks go back; camp hears that town has both messages.
    await tx.exportTo(stick)
    assert.equal((townLog.recent({ kinds: ['bundle.exported'] })[0] as OutpostEvent<'bundle.exported'>).data.messages, 0, 'an ack bundle carries no mail')
    await cx.importFrom(stick)
    const acks = campLog.recent({ kinds: ['ack.received'] })
    assert.deepEqual(acks.map((e) => e.data), [{ peer: 'town', messages: 2 }])
    assert.equal(cx.outbox.waiting().length, 0)

    // The traffic chart counts by day from these rows.
    const day = new Date().toISOString().slice(0, 10)
    assert.deepEqual(townLog.perDay(['message.delivered'], 0), [{ day, kind: 'message.delivered', count: 2 }])
  } finally {
    await close()
  }
})
