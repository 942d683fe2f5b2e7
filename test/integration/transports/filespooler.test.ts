// The Filespooler transport between two real nodes, with the real `fspl`:
// jobs that reach the receiving queue out of order and twice are applied in
// sequence order and once; a job whose import is deferred (the node is down)
// waits in the queue; acks travel back the same way.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { startNode, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { befriend } from '../../helpers/stick.js'

/** The fspl jobs in a queue, by sequence number. */
function jobsBySeq(queue: string): Map<number, string> {
  const out = execFileSync('fspl', ['queue-ls', '-q', queue], { encoding: 'utf8' })
  const jobs = new Map<number, string>()
  for (const line of out.split('\n').slice(1)) {
    const [seq, , file] = line.trim().split(/\s+/)
    if (seq && file) jobs.set(Number(seq), join(queue, 'jobs', file))
  }
  return jobs
}

/** The carrier: copies job files (never moves them, so they can be copied again). */
function carry(jobs: (string | undefined)[], inqueue: string): void {
  for (const j of jobs) {
    assert.ok(j, 'the job to carry exists')
    copyFileSync(j, join(inqueue, 'jobs', j.split('/').pop()!))
  }
}

async function run(node: TestNode, id = '1'): Promise<string> {
  const r = await node.cli(['transport', 'run', id])
  assert.equal(r.code, 0, `transport run on ${node.domain}: ${r.stdout}${r.stderr}`)
  return r.stdout
}

test('filespooler transport: out-of-order and repeated jobs apply in order, once; deferred jobs wait; acks come back', { timeout: 300_000 }, async () => {
  const camp = await startNode({ domain: 'camp.test' })
  const town = await startNode({ domain: 'town.test' })
  const spool = mkdtempSync(join(tmpdir(), 'op-fspl-'))
  const q = {
    campOut: join(spool, 'camp-to-town'),
    townIn: join(spool, 'town-from-camp'),
    townOut: join(spool, 'town-to-camp'),
    campIn: join(spool, 'camp-from-town'),
  }
  try {
    await befriend(camp, town)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')

    let r = await camp.cli(['transport', 'add', 'town', 'filespooler', '--set', 'outqueue=queues/out', '--set', `inqueue=${q.campIn}`])
    assert.match(r.stderr, /outqueue must be an absolute path/)
    r = await camp.cli(['transport', 'add', 'town', 'filespooler', '--set', `outqueue=${q.campIn}`, '--set', `inqueue=${q.campIn}`])
    assert.match(r.stderr, /must be different queues/)

    // Once a year: the scheduler in `outpost start` must not run the
    // transports behind the test's back; the test runs them by hand.
    const yearly = ['--schedule', '0 0 1 1 *']
    r = await camp.cli(['transport', 'add', 'town', 'filespooler', '--set', `outqueue=${q.campOut}`, '--set', `inqueue=${q.campIn}`, ...yearly])
    assert.equal(r.code, 0, r.stderr)
    r = await town.cli(['transport', 'add', 'camp', 'filespooler', '--set', `outqueue=${q.townOut}`, '--set', `inqueue=${q.townIn}`, ...yearly])
    assert.equal(r.code, 0, r.stderr)
    // The first runs make the queues; nothing waits yet.
    await run(town)

    // Three runs on camp, each after one more message: jobs 1, 2 and 3.
    // Every job carries all mail not yet acknowledged, so job 3 alone would
    // deliver everything; what matters is that nothing runs before job 1.
    const c = smtpClient(camp.ports.submission, alice)
    for (const n of [1, 2, 3]) {
      await c.sendMail({ from: alice.address, to: bob.address, subject: `by fspl ${n}`, text: `hello ${n}\n`, messageId: `<fs${n}@camp.test>` })
      assert.match(await run(camp), /as 1 jobs into/)
    }
    c.close()
    const sent = jobsBySeq(q.campOut)
    assert.deepEqual([...sent.keys()], [1, 2, 3])

    // Jobs 3 and 2 arrive first: fspl waits for job 1, so nothing is applied.
    carry([sent.get(3), sent.get(2)], q.townIn)
    assert.match(await run(town), /applied 0 bundles/)
    assert.equal(messageIdCounts(town.data, bob.address).size, 0, 'nothing is delivered before job 1 arrives')

    // Job 1 arrives while town's node is down: its import is deferred (exit
    // 75) and all three jobs stay in the queue.
    await town.stop()
    carry([sent.get(1)], q.townIn)
    const deferred = await run(town)
    assert.match(deferred, /job 1 deferred/)
    assert.deepEqual([...jobsBySeq(q.townIn).keys()], [1, 2, 3])

    await town.restart()
    assert.match(await run(town), /applied 3 bundles/)
    assert.deepEqual([...jobsBySeq(q.townIn).keys()], [], 'applied jobs leave the queue')

    // The carrier copies all three again: they were applied, so they are dropped unrun.
    carry([sent.get(1), sent.get(2), sent.get(3)], q.townIn)
    const again = await run(town)
    assert.match(again, /applied 0 bundles/)
    assert.match(again, /dropped 3 jobs seen before/)
    assert.equal(readdirSync(join(q.townIn, 'jobs')).length, 0)

    const counts = messageIdCounts(town.data, bob.address)
    for (const n of [1, 2, 3]) assert.equal(counts.get(`<fs${n}@camp.test>`), 1, `message ${n} arrived exactly once`)

    // A job whose bundle is damaged: its import keeps it in quarantine and
    // exits 0, so the queue moves past it instead of stopping there for ever.
    execFileSync('sh', ['-c', 'echo "not a bundle" | fspl prepare -s "$1" -i - | fspl queue-write -q "$2"', 'sh', join(camp.data, 'filespooler', 'town', 'seq'), q.campOut])
    const damaged = jobsBySeq(q.campOut).get(4)
    carry([damaged], q.townIn)
    assert.match(await run(town), /1 bundles quarantined/)
    assert.match((await town.cli(['status'])).stdout, /quarantine: 1 files/)
    assert.equal(readdirSync(join(q.townIn, 'jobs')).length, 0)

    // The acks go back the same way. Town's runs above each sealed the acks
    // owed at that moment into a job; carry every job town made.
    const acks = jobsBySeq(q.townOut)
    assert.ok(acks.size >= 1, 'town wrote ack jobs')
    carry([...acks.values()].reverse(), q.campIn)
    const back = await run(camp)
    assert.match(back, new RegExp(`applied ${acks.size} bundles`))
    const queue = await camp.cli(['queue'])
    assert.match(queue.stdout, /the outbox is empty/)
  } finally {
    rmSync(spool, { recursive: true, force: true })
    await Promise.all([camp.destroy(), town.destroy()])
  }
})
