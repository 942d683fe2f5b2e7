import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { EventLog } from '../../../server/events/log.js'
import { pruneActivity } from '../../../server/events/retention.js'
import { setSetting } from '../../../server/db/settings.js'

test('the activity log keeps 30 days, or what events.retentionDays says', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-retention-'))
  const db = openDb(join(dir, 'db.sqlite'))
  try {
    const log = new EventLog(db)
    const day = 24 * 60 * 60 * 1000
    const now = Date.UTC(2026, 5, 1)
    for (const age of [40, 31, 29, 5]) log.record('error', { source: 'test', message: `${age} days old` }, now - age * day)
    assert.deepEqual(pruneActivity(db, log, now), { removed: 2, days: 30 })
    assert.deepEqual(log.recent().map((e) => (e.data as { message: string }).message), ['5 days old', '29 days old'])
    setSetting(db, 'events.retentionDays', 7)
    assert.deepEqual(pruneActivity(db, log, now), { removed: 1, days: 7 })
    setSetting(db, 'events.retentionDays', 'nonsense')
    assert.equal(pruneActivity(db, log, now).days, 30, 'a bad value falls back to the default')
  } finally {
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
