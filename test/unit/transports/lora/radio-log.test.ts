// The radio log: a LoRa radio's airtime and frames an hour per row, on a
// fresh database with the real migrations. It survives reopening, keeps
// fractions of a millisecond of airtime, and never holds more than a week.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../../server/db/index.js'
import { radioHours } from '../../../../server/db/schema.js'
import { HOUR_MS, hourOf, KEEP_HOURS, RadioCounter, RadioLog } from '../../../../server/transports/lora/radio-log.js'
import type { LinkStats } from '../../../../server/transports/lora/link.js'

const stats = (): LinkStats => ({ framesSent: 0, framesResent: 0, framesReceived: 0, framesBad: 0, acksMissed: 0, airtimeMs: 0, bytesOnAir: 0, bundlesSent: 0, bundlesReceived: 0 })

test('a counter writes what the link counted since its last flush into the hour it is flushed in; the figures survive reopening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-radiolog-'))
  try {
    const file = join(dir, 'outpost.db')
    let db = openDb(file)
    const s = stats()
    s.framesSent = 5 // counted before the counter started: not this session's
    const counter = new RadioCounter(new RadioLog(db), 7, s)
    const t0 = hourOf(Date.now()) - 3 * HOUR_MS + 1000
    // Three frames of 0.4 ms each: 1.2 ms in all, not 0 from rounding each.
    for (let i = 0; i < 3; i++) {
      s.framesSent++
      s.airtimeMs += 0.4
      counter.flush(t0)
    }
    s.framesSent += 2
    s.framesResent += 1
    s.framesReceived += 4
    s.framesBad += 1
    s.acksMissed += 1
    s.airtimeMs += 300.5
    // 301.7 ms so far: 301 recorded, 0.7 carried to the next flush.
    counter.flush(t0 + HOUR_MS)
    db.$client.close()

    db = openDb(file)
    const log = new RadioLog(db)
    const hours = log.hours(7, 24, t0 + 3 * HOUR_MS)
    assert.equal(hours.length, 24)
    assert.deepEqual(hours.slice(-4).map((h) => [h.airtimeMs, h.framesSent]), [[1, 3], [300, 2], [0, 0], [0, 0]])
    assert.deepEqual(log.total(7, 24, t0 + 3 * HOUR_MS), { airtimeMs: 301, framesSent: 5, framesResent: 1, framesReceived: 4, framesBad: 1, acksMissed: 1 })
    assert.deepEqual(log.total(8, 24, t0 + 3 * HOUR_MS).framesSent, 0, 'another transport has its own rows')
    db.$client.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('pruning keeps a week of hours, so a radio that runs for a year holds at most 168 rows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-radiolog-'))
  try {
    const db = openDb(join(dir, 'outpost.db'))
    const log = new RadioLog(db)
    const start = hourOf(Date.UTC(2026, 0, 1))
    const one = { airtimeMs: 10, framesSent: 1, framesResent: 0, framesReceived: 0, framesBad: 0, acksMissed: 0 }
    for (let h = 0; h < 24 * 30; h++) {
      log.add(1, one, start + h * HOUR_MS)
      if (h % 24 === 0) log.prune(start + h * HOUR_MS)
    }
    const end = start + (24 * 30 - 1) * HOUR_MS
    log.prune(end)
    const rows = db.select().from(radioHours).all()
    assert.equal(rows.length, KEEP_HOURS)
    assert.equal(Math.min(...rows.map((r) => r.hour)), end - (KEEP_HOURS - 1) * HOUR_MS)
    assert.equal(log.total(1, 24, end).framesSent, 24)
    db.$client.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
