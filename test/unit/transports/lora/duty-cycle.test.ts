// The sender's airtime budget: a sliding hour, kept across restarts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AirtimeBudget, REGIONS, WINDOW_MS, airtimeFile, radioBudget, sharedAirtimeFile } from '../../../../server/transports/lora/duty-cycle.js'

test('EU868 allows 36 s of airtime an hour; a frame past it waits until the oldest leaves the window', () => {
  let now = 1_000_000
  const b = new AirtimeBudget(undefined, REGIONS.EU868!.duty, () => now)
  assert.equal(b.limitMs(), 36_000)
  for (let i = 0; i < 36; i++) {
    assert.equal(b.waitMs(1000), 0)
    b.charge(1000)
    now += 10_000
  }
  assert.equal(b.usedMs(), 36_000)
  // The first frame went out at 1_000_000 and leaves the window an hour later.
  assert.equal(b.waitMs(500), 1_000_000 + WINDOW_MS - now)
  now = 1_000_000 + WINDOW_MS + 1
  assert.equal(b.waitMs(500), 0)
  assert.equal(b.usedMs(), 35_000)
  assert.equal(b.waitMs(40_000), Infinity)
})

test('the budget is kept on disk, so a new run does not get a fresh hour; an unreadable log counts as a full hour', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-duty-'))
  const file = join(dir, 'airtime.json')
  let now = 5_000_000
  const a = new AirtimeBudget(file, 0.01, () => now)
  a.charge(30_000)
  now += 1000
  const again = new AirtimeBudget(file, 0.01, () => now)
  assert.equal(again.usedMs(), 30_000)
  assert.ok(again.waitMs(10_000) > 0)
  writeFileSync(file, '{not json')
  const broken = new AirtimeBudget(file, 0.01, () => now)
  assert.equal(broken.usedMs(), 36_000)
})

test('each radio has its own budget: two radios of one node each get the whole hour', () => {
  const spool = mkdtempSync(join(tmpdir(), 'op-duty-'))
  let now = 7_000_000
  const one = radioBudget(spool, 1, 0.01, { now: () => now })
  const two = radioBudget(spool, 2, 0.01, { now: () => now })
  for (let i = 0; i < 36; i++) {
    assert.equal(one.waitMs(1000), 0)
    one.charge(1000)
    assert.equal(two.waitMs(1000), 0, `radio 2's frame ${i} fits its own hour`)
    two.charge(1000)
    now += 1000
  }
  assert.ok(one.waitMs(1000) > 0)
  assert.ok(two.waitMs(1000) > 0)
  assert.ok(existsSync(airtimeFile(spool, 1)) && existsSync(airtimeFile(spool, 2)))
  // A restart keeps each radio's charge, and neither gets the other's.
  now += 1000
  assert.equal(radioBudget(spool, 1, 0.01, { now: () => now }).usedMs(), 36_000)
  assert.equal(radioBudget(spool, 2, 0.01, { now: () => now }).usedMs(), 36_000)
  assert.equal(radioBudget(spool, 3, 0.01, { now: () => now }).usedMs(), 0)
})

test('the shared log of an older version is charged to each radio once, kept across a restart, and removed once it has expired', () => {
  const spool = mkdtempSync(join(tmpdir(), 'op-duty-'))
  mkdirSync(join(spool, 'lora'))
  let now = 9_000_000
  // Before the upgrade both radios together spent 30 s in the last hour (and 9 s before it, which no longer counts).
  writeFileSync(sharedAirtimeFile(spool), JSON.stringify([{ at: now - WINDOW_MS - 1, ms: 9000 }, { at: now - 20 * 60_000, ms: 20_000 }, { at: now - 60_000, ms: 10_000 }]))
  // What `outpost radio` shows of a radio not yet opened: the same charge, and nothing written.
  assert.equal(radioBudget(spool, 1, 0.01, { now: () => now, readOnly: true }).usedMs(), 30_000)
  assert.equal(existsSync(airtimeFile(spool, 1)), false)
  const one = radioBudget(spool, 1, 0.01, { now: () => now })
  const two = radioBudget(spool, 2, 0.01, { now: () => now })
  assert.equal(one.usedMs(), 30_000)
  assert.equal(two.usedMs(), 30_000)
  // Neither radio may go past the legal hour right after the upgrade.
  assert.ok(one.waitMs(7000) > 0)
  assert.equal(one.waitMs(6000), 0)
  one.charge(6000)
  // Charged once: a restart reads the radio's own file, not the shared log again.
  now += 1000
  assert.equal(radioBudget(spool, 1, 0.01, { now: () => now }).usedMs(), 36_000)
  assert.equal(radioBudget(spool, 2, 0.01, { now: () => now }).usedMs(), 30_000)
  assert.ok(existsSync(sharedAirtimeFile(spool)), 'kept while it still counts for a radio not yet opened')
  // An hour on, nothing in the shared log counts: the next radio to open removes it.
  now += WINDOW_MS
  assert.equal(radioBudget(spool, 3, 0.01, { now: () => now }).usedMs(), 0)
  assert.equal(existsSync(sharedAirtimeFile(spool)), false)
  // An unreadable shared log counts as a full hour for a radio that has no file yet.
  writeFileSync(sharedAirtimeFile(spool), '{not json')
  assert.equal(radioBudget(spool, 4, 0.01, { now: () => now }).usedMs(), 36_000)
})
