import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { EventBus, EventLog } from '../../../server/events/log.js'
import type { OutpostEvent } from '../../../server/events/types.js'
import { waitFor } from '../../helpers/wait.js'

test('events written by one process reach another through the table, progress only through the bus', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-events-'))
  try {
    const writer = new EventLog(openDb(join(dir, 'db.sqlite')))
    const readerBus = new EventBus()
    const reader = new EventLog(openDb(join(dir, 'db.sqlite')), readerBus)
    const seen: OutpostEvent[] = []
    readerBus.on((ev) => seen.push(ev))
    const stop = reader.tail(readerBus, 20)
    writer.record('transport.run', { transportId: 1, peer: 'town', kind: 'http', phase: 'progress', done: 1, total: 2 })
    writer.record('message.accepted', { messageId: '<a@x>', from: 'a@camp.test', to: ['b@camp.test'], size: 10 })
    reader.record('transport.run', { transportId: 1, peer: 'town', kind: 'http', phase: 'progress', done: 2, total: 2 })
    // The accepted event was written after the writer's progress: once it is
    // through, that progress would have been too, had it gone into the table.
    await waitFor('the accepted event through the table', () => seen.some((e) => e.kind === 'message.accepted'), { timeoutMs: 10_000, everyMs: 10 })
    stop()
    assert.deepEqual(
      seen.map((e) => [e.kind, e.id > 0]),
      [
        ['transport.run', false],
        ['message.accepted', true],
      ],
    )
    assert.equal(writer.recent().length, 1, 'progress is not stored')
    const days = writer.perDay(['message.accepted'], 0)
    assert.equal(days[0]?.count, 1)
    assert.equal(writer.prune(Date.now() + 1), 1)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
