// Import says how far it is while it runs: on the terminal (the progress
// callback) and as import.run events, live on the bus the web admin listens
// to; a bundle's local mail goes to Dovecot over one LMTP session.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { initNode } from '../../../server/node/init.js'
import { openNode, type NodeContext } from '../../../server/context/context.js'
import { exec } from '../../../server/base/exec.js'
import { Exchange, exchangeServices } from '../../../server/exchange/exchange.js'
import { IMPORT_BATCH } from '../../../server/exchange/import.js'
import { EventBus, EventLog } from '../../../server/events/log.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { makeCard } from '../../../server/identity/card.js'
import type { OutpostEvent, OutpostEvents } from '../../../server/events/types.js'
import { FakeLmtp } from '../../helpers/fake-lmtp.js'
import { seedOutbox } from '../../helpers/outbox-seed.js'

test('import reports its progress per batch of messages, in bytes of bundle files, ending at the total; one LMTP session per bundle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-improg-'))
  const stick = join(dir, 'stick')
  mkdirSync(stick)
  const nodes: NodeContext[] = []
  let lmtp: FakeLmtp | undefined
  try {
    const campInit = await initNode({ data: join(dir, 'camp'), domain: 'camp.test', host: '127.0.0.1' }, exec)
    const townInit = await initNode({ data: join(dir, 'town'), domain: 'town.test', host: '127.0.0.1' }, exec)
    const camp = openNode(campInit.paths.data)
    const town = openNode(townInit.paths.data)
    nodes.push(camp, town)
    const cx = new Exchange(camp, exchangeServices(camp))
    const bus = new EventBus()
    const seen: OutpostEvent[] = []
    bus.on((e) => seen.push(e))
    const tx = new Exchange(town, exchangeServices(town, { events: new EventLog(town.db, bus) }))
    cx.peers.add(makeCard({ config: townInit.config, identity: loadIdentity(townInit.paths) }))
    tx.peers.add(makeCard({ config: campInit.config, identity: loadIdentity(campInit.paths) }))
    mkdirSync(dirname(town.paths.lmtpSocket), { recursive: true })
    lmtp = await new FakeLmtp(town.paths.lmtpSocket).listen()

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
    assert.equal(lmtp.sessions, 1, 'one LMTP session for the bundle')

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
    await lmtp?.close()
    for (const n of nodes) n.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
