// The sender's airtime budget: a sliding hour, kept across restarts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AirtimeBudget, REGIONS, WINDOW_MS } from '../../../../server/transports/lora/duty-cycle.js'

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
