// A transport run reports itself: start, progress pushed live (not stored),
// then done, or error with the reason a person reads.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { type NodeContext } from '../../../server/context/context.js'
import { exec } from '../../../server/base/exec.js'
import { Exchange } from '../../../server/exchange/exchange.js'
import { EventBus, EventLog } from '../../../server/events/log.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import { TransportService } from '../../../server/transports/service.js'
import { runTransport } from '../../../server/transports/runner.js'
import type { OutpostEvent, OutpostEvents } from '../../../server/events/types.js'
import { twoPeeredNodes } from '../../helpers/exchange-pair.js'

test('a folder transport run records start and done, pushes progress on the bus, and records an error with its reason', async () => {
  const bus = new EventBus()
  const pushed: OutpostEvent[] = []
  bus.on((e) => pushed.push(e))
  const pair = await twoPeeredNodes('op-run-', { bus })
  const { dir, camp, town, cx, tx, lmtp } = pair
  const campEvents = pair.campLog
  const townEvents = pair.townLog
  const shared = join(dir, 'shared')
  mkdirSync(shared)
  try {
    const campService = new TransportService(camp.db, (n) => cx.peers.get(n) !== undefined)
    const townService = new TransportService(town.db, (n) => tx.peers.get(n) !== undefined)
    const campT = campService.add('town', 'folder', { path: shared })
    const townT = townService.add('camp', 'folder', { path: shared })
    for (const n of [1, 2, 3]) {
      const data = Buffer.from(`From: alice@camp.test\r\nMessage-ID: <r${n}@camp.test>\r\n\r\nhi ${n}\r\n`)
      cx.outbox.enqueue({ messageId: stableMessageId(data, 'alice@camp.test'), sender: 'alice@camp.test', data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
    }
    const lines: string[] = []
    const ctx = (node: NodeContext, exchange: Exchange, service: TransportService) => ({ node, exchange, service, exec, log: (l: string) => lines.push(l) })

    await runTransport(ctx(camp, cx, campService), campT.id)
    const runs = (log: EventLog) => log.recent({ kinds: ['transport.run'] }).reverse().map((e) => e.data as OutpostEvents['transport.run'])
    assert.deepEqual(runs(campEvents), [
      { transportId: campT.id, peer: 'town', kind: 'folder', phase: 'start' },
      { transportId: campT.id, peer: 'town', kind: 'folder', phase: 'done', done: 1, total: 1 },
    ])
    const runEvents = () => pushed.filter((e): e is OutpostEvent<'transport.run'> => e.kind === 'transport.run')
    const campProgress = runEvents().filter((e) => e.data.phase === 'progress')
    assert.deepEqual(campProgress.map((e) => [e.id, e.data]), [[0, { transportId: campT.id, peer: 'town', kind: 'folder', phase: 'progress', done: 3, total: 3 }]], 'progress is pushed, not stored')

    pushed.length = 0
    await runTransport(ctx(town, tx, townService), townT.id)
    assert.deepEqual(runEvents().map((e) => e.data.phase), ['progress'], 'the import reports its bundles')
    assert.equal(lmtp.stored.length, 3)
    assert.deepEqual(runs(townEvents).map((d) => d.phase), ['start', 'done'])

    // The stick is gone: the run fails, and the error says so.
    rmSync(shared, { recursive: true, force: true })
    await assert.rejects(runTransport(ctx(town, tx, townService), townT.id), /is not there/)
    const last = runs(townEvents).at(-1)!
    assert.equal(last.phase, 'error')
    assert.match(last.error ?? '', /is not there \(stick not plugged in/)
  } finally {
    await pair.close()
  }
})
