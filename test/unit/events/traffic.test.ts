// The dashboard's chart: messages received, sent and local per day, zeros included.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { EventLog } from '../../../server/events/log.js'
import { dailyTraffic } from '../../../server/events/traffic.js'

test('traffic counts deliveries by how they came and exported messages by bundle, one entry per day', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-traffic-'))
  try {
    const db = openDb(join(dir, 'db.sqlite'))
    const log = new EventLog(db)
    const now = Date.parse('2026-03-10T12:00:00Z')
    const day = 24 * 60 * 60 * 1000
    const id = 'a'.repeat(64)
    log.record('message.delivered', { messageId: id, recipient: 'bob@camp.test', via: 'smtp' }, now)
    log.record('message.delivered', { messageId: id, recipient: 'carol@camp.test', via: 'smtp' }, now)
    log.record('message.delivered', { messageId: id, recipient: 'bob@camp.test', via: 'usb' }, now - 2 * day)
    log.record('bundle.exported', { peer: 'town', bundleId: 'b', messages: 5, bytes: 100, via: 'folder' }, now - 2 * day)
    log.record('bundle.exported', { peer: 'town', bundleId: 'c', messages: 0, bytes: 10, via: 'folder' }, now - 2 * day)
    log.record('message.sent', { messageId: id, recipient: 'x@example.org', via: 'smarthost' }, now - day)
    // Too old for the chart, and not traffic at all.
    log.record('message.delivered', { messageId: id, recipient: 'bob@camp.test', via: 'smtp' }, now - 30 * day)
    log.record('message.accepted', { messageId: id, from: 'a@camp.test', to: ['b@camp.test'], size: 1 }, now)
    assert.deepEqual(dailyTraffic(db, 4, now), [
      { day: '2026-03-07', received: 0, sent: 0, local: 0 },
      { day: '2026-03-08', received: 1, sent: 5, local: 0 },
      { day: '2026-03-09', received: 0, sent: 1, local: 0 },
      { day: '2026-03-10', received: 0, sent: 0, local: 2 },
    ])
    db.$client.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
