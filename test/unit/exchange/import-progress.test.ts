// Import says how far it is while it runs: on the terminal (the progress
// callback) and as import.run events, live on the bus the web admin listens
// to; a bundle's local mail goes to Dovecot over a few LMTP sessions kept for the whole bundle.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { IMPORT_BATCH } from '../../../server/exchange/import.js'
import { laneOf } from '../../../server/delivery/batch.js'
import { EventBus, EventLog } from '../../../server/events/log.js'
import type { OutpostEvent, OutpostEvents } from '../../../server/events/types.js'
import { twoPeeredNodes } from '../../helpers/exchange-pair.js'
import { seedOutbox } from '../../helpers/outbox-seed.js'

test('import reports its progress per batch of messages, in bytes of bundle files, ending at the total; a few LMTP sessions per bundle', async () => {
  const bus = new EventBus()
  const seen: OutpostEvent[] = []
  bus.on((e) => seen.push(e))
  const { dir, camp, town, cx, tx, lmtp, close } = await twoPeeredNodes('op-improg-', { bus })
  const stick = join(dir, 'stick')
  mkdirSync(stick)
  try {
    // Mail from camp's users to town's (friendN@town.test), as SMTP would have queued it.
    const count = 2 * IMPORT_BATCH + 200
    seedOutbox(camp.db, { messages: count, peers: ['town'], spool: camp.paths.spool, bodyBytes: 300 })
    const exported = await cx.exportTo(stick)
    assert.equal(exported[0]?.messages, count)
    const files = readdirSync(join(stick, 'outpost', 'town'))
    assert.equal(files.length, 1, 'one bundle')
    const size = statSync(join(stick, 'outpost', 'town', files[0]!)).size

    const calls: [number, number, string][] = []
    const results = await tx.importFrom(stick, (done, total, what) => calls.push([done, total, what]))
    assert.equal(results[0]?.outcome.kind, 'imported')
    assert.equal(lmtp.stored.length, count, 'every message stored once')
    // One session per mailbox lane in use, kept for the whole bundle (not one per batch).
    assert.equal(lmtp.sessions, new Set(Array.from({ length: 97 }, (_, n) => laneOf(`friend${n}@town.test`))).size, 'one LMTP session per lane for the bundle')

    // The terminal: one call per batch and one when the file is done, never backwards, ending at the file's size.
    assert.ok(calls.length >= 3, `${calls.length} progress calls`)
    for (const [i, c] of calls.entries()) {
      assert.equal(c[1], size)
      if (i > 0) assert.ok(c[0] >= calls[i - 1]![0], 'progress never goes back')
    }
    assert.equal(calls.at(-1)![0], size)
    assert.match(calls[0]![2], new RegExp(`: ${IMPORT_BATCH} of ${count} messages$`))

    // The web admin: progress is pushed live on the bus, with the messages
    // handled so far; start and done are stored (the node's tail pushes them).
    const progress = seen.filter((e) => e.kind === 'import.run').map((e) => e.data as OutpostEvents['import.run'])
    assert.ok(progress.every((d) => d.phase === 'progress' && d.total === size && d.via === 'folder'))
    assert.deepEqual([...new Set(progress.map((d) => d.messages))], [IMPORT_BATCH, 2 * IMPORT_BATCH, count])
    assert.equal(progress.at(-1)!.done, size)
    const stored = new EventLog(town.db).recent({ kinds: ['import.run'] }).map((e) => e.data as OutpostEvents['import.run'])
    assert.deepEqual(stored.reverse(), [
      { via: 'folder', phase: 'start', done: 0, total: size, messages: 0 },
      { via: 'folder', phase: 'done', done: size, total: size, messages: count },
    ])
  } finally {
    await close()
  }
})
