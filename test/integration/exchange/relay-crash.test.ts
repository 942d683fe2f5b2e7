// Store and forward through a third node, and kill -9 of export and import
// after each of their write steps: every message still arrives exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, OUTPOST_BIN, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { befriend, campAndTown, carry } from '../../helpers/stick.js'

async function sendMany(node: TestNode, from: { address: string; password: string }, to: string, ids: string[]) {
  const c = smtpClient(node.ports.submission, from)
  try {
    for (const id of ids) await c.sendMail({ from: from.address, to, subject: 'relay', text: `body of ${id}\n`.repeat(50), messageId: id })
  } finally {
    c.close()
  }
}

/** Nodes started one by one inside a test's try, and a stick folder: tearDown removes what was made, whatever failed. */
function sceneOfNodes(): { start: (domain: string) => Promise<TestNode>; stick: string; tearDown: () => Promise<void> } {
  const started: TestNode[] = []
  const stick = mkdtempSync(join(tmpdir(), 'op-stick-'))
  return {
    stick,
    start: async (domain) => {
      const n = await startNode({ domain })
      started.push(n)
      return n
    },
    tearDown: async () => {
      rmSync(stick, { recursive: true, force: true })
      await Promise.all(started.map((n) => n.destroy()))
    },
  }
}

test('camp → stick → hub → stick → town: hub holds no accounts, messages arrive once, acks empty every queue', { timeout: 300_000 }, async () => {
  const { start, stick, tearDown } = sceneOfNodes()
  try {
    const camp = await start('camp.test')
    const hub = await start('hub.test')
    const town = await start('town.test')
    await befriend(camp, hub)
    await befriend(hub, town)
    // camp and town never meet: each reaches the other's domain through hub.
    assert.equal((await camp.cli(['route', 'add', 'town.test', 'hub'])).code, 0)
    assert.equal((await town.cli(['route', 'add', 'camp.test', 'hub'])).code, 0)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')
    const ids = Array.from({ length: 5 }, (_, i) => `<relay${i}@camp.test>`)
    await sendMany(camp, alice, bob.address, ids)

    await carry(stick, camp, hub)
    assert.match((await hub.cli(['queue'])).stdout, /town: 5 messages/, 'hub holds them for town')
    await carry(stick, hub, town)
    const counts = messageIdCounts(town.data, bob.address)
    for (const id of ids) assert.equal(counts.get(id), 1, `${id} arrived once`)

    // Acks go back hop by hop: town → hub, hub → camp.
    await carry(stick, town, hub)
    await carry(stick, hub, camp)
    for (const n of [camp, hub, town]) assert.match((await n.cli(['queue'])).stdout, /the outbox is empty/, n.domain)
  } finally {
    await tearDown()
  }
})

/**
 * Runs an outpost command over and over, the first time killed (SIGKILL, from
 * inside: server/base/crash-point.ts) at its first write step, then at its second,
 * and so on, until a run ends by itself. Returns the steps it was killed at.
 */
function crashAtEveryStep(args: string[], maxRuns = 400): Promise<string[]> {
  const once = (n: number) =>
    new Promise<{ killedAt?: string; code: number | null }>((resolve) => {
      const p = spawn(process.execPath, [OUTPOST_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OUTPOST_CRASH_AT: `*:${n}` } })
      let err = ''
      p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
      p.on('exit', (code, sig) => resolve(sig === 'SIGKILL' ? { killedAt: /crash point (\S+)/.exec(err)?.[1] ?? '?', code } : { code }))
    })
  return (async () => {
    const killedAt: string[] = []
    for (let n = 1; n <= maxRuns; n++) {
      const r = await once(n)
      if (r.killedAt === undefined) {
        assert.equal(r.code, 0, `outpost ${args.join(' ')} ends well after ${killedAt.length} crashes`)
        return killedAt
      }
      killedAt.push(r.killedAt)
    }
    throw new Error(`outpost ${args.join(' ')} still crashing after ${maxRuns} runs`)
  })()
}

test('kill -9 after every write step of export and import: every message is delivered exactly once', { timeout: 900_000 }, async () => {
  let scene: Awaited<ReturnType<typeof campAndTown>> | undefined
  try {
    scene = await campAndTown({ campEnv: { OUTPOST_LIMITS_SEND_BURST: '1000', OUTPOST_LIMITS_SEND_PER_MINUTE: '10000' } })
    const { camp, town, stick, alice, bob } = scene
    const ids = Array.from({ length: 40 }, (_, i) => `<crash${i}@camp.test>`)
    await sendMany(camp, alice, bob.address, ids)

    // Mail goes camp → town, acks come back; each command is killed after
    // each of its write steps in turn before a run of it completes.
    const steps = new Set<string>()
    for (const [args] of [
      [['export', stick, '--data', camp.data]],
      [['import', stick, '--data', town.data]],
      [['export', stick, '--data', town.data]],
      [['import', stick, '--data', camp.data]],
    ] as const) {
      for (const s of await crashAtEveryStep([...args])) steps.add(s)
    }
    for (const s of ['durable.written', 'durable.renamed', 'durable.synced', 'export.mail-written', 'deliver.stored', 'import.delivered', 'import.bundle-done', 'export.ack-written']) {
      assert.ok(steps.has(s), `killed after ${s} at least once (killed after: ${[...steps].join(', ')})`)
    }

    // Then the stick goes back and forth undisturbed until everything is acked.
    for (let i = 0; i < 4; i++) {
      await carry(stick, camp, town)
      await carry(stick, town, camp)
    }
    const counts = messageIdCounts(town.data, bob.address)
    for (const id of ids) assert.equal(counts.get(id), 1, `${id} delivered exactly once`)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)
  } finally {
    await scene?.destroy()
  }
})

test('a stick carries a bundle for another node: a neighbour that knows both ends takes it over unopened; a stranger leaves it', { timeout: 300_000 }, async () => {
  const { start, stick, tearDown } = sceneOfNodes()
  try {
    const camp = await start('camp.test')
    const hub = await start('hub.test')
    const town = await start('town.test')
    const lone = await start('lone.test')
    await befriend(camp, town)
    await befriend(camp, hub)
    await befriend(hub, town)
    await befriend(lone, camp)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')
    await sendMany(camp, alice, bob.address, ['<carried@camp.test>'])
    assert.equal((await camp.cli(['export', stick])).code, 0)

    // lone knows camp but not town: the bundle stays on the stick.
    let r = await lone.cli(['import', stick])
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /taken over/)
    // hub knows both: it takes the bundle over and carries it on.
    r = await hub.cli(['import', stick])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /1 taken over for other nodes/)
    r = await hub.cli(['export', stick])
    assert.match(r.stdout, /town: 0 messages, 0 acks, 1 relayed bundles/)
    r = await town.cli(['import', stick])
    assert.match(r.stdout, /1 delivered here/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<carried@camp.test>'), 1)
    // town's ack is for camp, and reaches it the same way.
    assert.equal((await town.cli(['export', stick])).code, 0)
    r = await camp.cli(['import', stick])
    assert.match(r.stdout, /1 acks from town/)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)
  } finally {
    await tearDown()
  }
})
