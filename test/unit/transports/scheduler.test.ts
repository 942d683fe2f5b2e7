// An `event` transport starts as soon as its work is committed: the spool's
// work signal wakes the scheduler (outbox.ts, WORK_SIGNAL). The message's
// own file lands before its rows, so a scheduler that looked only then found
// nothing and the message waited for the poll. Here the poll is an hour, so
// only the signal can start the run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { exec } from '../../../server/base/exec.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import { TransportService } from '../../../server/transports/service.js'
import { TransportScheduler } from '../../../server/transports/scheduler.js'
import type { RunnerContext } from '../../../server/transports/runner.js'
import { twoPeeredNodes, type PeeredPair } from '../../helpers/exchange-pair.js'
import { waitFor } from '../../helpers/wait.js'

const HOUR = 60 * 60 * 1000

function queue(pair: PeeredPair, text: string): void {
  const data = Buffer.from(`From: alice@camp.test\r\nTo: bob@town.test\r\nSubject: ${text}\r\n\r\n${text}\r\n`)
  pair.cx.outbox.enqueue({ messageId: stableMessageId(data, 'alice@camp.test'), sender: 'alice@camp.test', data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
}

async function setUp(run: (id: number) => Promise<unknown>): Promise<{ pair: PeeredPair; scheduler: TransportScheduler; close(): Promise<void> }> {
  const pair = await twoPeeredNodes('op-sched-')
  const shared = join(pair.dir, 'shared')
  mkdirSync(shared)
  const service = new TransportService(pair.camp.db, (n) => pair.cx.peers.get(n) !== undefined)
  service.add('town', 'folder', { path: shared }, 'event')
  const ctx: RunnerContext = { node: pair.camp, exchange: pair.cx, service, exec, log: () => undefined }
  const scheduler = new TransportScheduler(ctx, service, pair.camp.paths.spool, { pollMs: HOUR, run: (_ctx, id) => run(id) })
  scheduler.start()
  return {
    pair,
    scheduler,
    close: async () => {
      scheduler.stop()
      await pair.close()
    },
  }
}

test('mail queued for a peer starts its event transport without waiting for the poll', async () => {
  const runs: number[] = []
  const s = await setUp(async (id) => {
    runs.push(id)
  })
  try {
    queue(s.pair, 'first')
    await waitFor('the transport to run', () => runs.length > 0, { timeoutMs: 20_000, everyMs: 10 })
    assert.equal(runs[0], 1)
  } finally {
    await s.close()
  }
})

test('mail queued while the transport runs starts another run right after it', async () => {
  const exported: number[] = []
  let release: () => void = () => undefined
  let pair: PeeredPair | undefined
  const s = await setUp(async () => {
    // A run exports what is due when it starts, as a real one does; the
    // first is still busy (sending) when the second message is committed.
    const r = await pair!.cx.exportPeer('town', async () => undefined, { via: 'http' })
    exported.push(r.messages)
    if (exported.length === 1) await new Promise<void>((done) => (release = done))
  })
  pair = s.pair
  try {
    queue(s.pair, 'first')
    await waitFor('the first run', () => exported.length === 1, { timeoutMs: 20_000, everyMs: 10 })
    queue(s.pair, 'second')
    await waitFor('the signal to reach the busy scheduler', () => (s.scheduler as unknown as { lookAgain: Set<number> }).lookAgain.has(1), { timeoutMs: 20_000, everyMs: 10 })
    assert.deepEqual(exported, [1], 'no second run while the first one runs')
    release()
    // With the poll an hour away, only the look after the run can start this one.
    await waitFor('the second run', () => exported.length === 2, { timeoutMs: 20_000, everyMs: 10 })
    assert.deepEqual(exported, [1, 1], 'the second run took the second message')
  } finally {
    release()
    await s.close()
  }
})
