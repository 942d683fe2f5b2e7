// Store and forward through a third node, and kill -9 of export and import
// at random points: every message still arrives exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, OUTPOST_BIN, type TestNode } from '../helpers/node.js'
import { smtpClient, messageIdCounts } from '../helpers/mail.js'
import { befriend, campAndTown, carry } from '../helpers/stick.js'

async function sendMany(node: TestNode, from: { address: string; password: string }, to: string, ids: string[]) {
  const c = smtpClient(node.ports.submission, from)
  try {
    for (const id of ids) await c.sendMail({ from: from.address, to, subject: 'relay', text: `body of ${id}\n`.repeat(50), messageId: id })
  } finally {
    c.close()
  }
}

test('camp → stick → hub → stick → town: hub holds no accounts, messages arrive once, acks empty every queue', { timeout: 300_000 }, async () => {
  const camp = await startNode({ domain: 'camp.test' })
  const hub = await startNode({ domain: 'hub.test' })
  const town = await startNode({ domain: 'town.test' })
  const stick = mkdtempSync(join(tmpdir(), 'op-stick-'))
  try {
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
    rmSync(stick, { recursive: true, force: true })
    await Promise.all([camp.destroy(), hub.destroy(), town.destroy()])
  }
})

/** Runs an outpost command and kills it with SIGKILL after `afterMs` unless it ended first. */
function runAndKill(args: string[], afterMs: number): Promise<'killed' | number> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [OUTPOST_BIN, ...args], { stdio: 'ignore' })
    const t = setTimeout(() => p.kill('SIGKILL'), afterMs)
    p.on('exit', (code, sig) => {
      clearTimeout(t)
      resolve(sig === 'SIGKILL' ? 'killed' : (code ?? 1))
    })
  })
}

test('kill -9 of export and import at random points, many times: every message is delivered exactly once', { timeout: 600_000 }, async () => {
  const scene = await campAndTown({ campEnv: { OUTPOST_LIMITS_SEND_BURST: '1000', OUTPOST_LIMITS_SEND_PER_MINUTE: '10000' } })
  const { camp, town, stick, alice, bob } = scene
  try {
    const ids = Array.from({ length: 40 }, (_, i) => `<crash${i}@camp.test>`)
    await sendMany(camp, alice, bob.address, ids)

    let kills = 0
    // A fixed seed would hide nothing here: each round picks new kill points.
    for (let round = 0; round < 12; round++) {
      const r1 = await runAndKill(['export', stick, '--data', camp.data], 100 + Math.random() * 600)
      const r2 = await runAndKill(['import', stick, '--data', town.data], 100 + Math.random() * 900)
      const r3 = await runAndKill(['export', stick, '--data', town.data], 100 + Math.random() * 600)
      const r4 = await runAndKill(['import', stick, '--data', camp.data], 100 + Math.random() * 600)
      kills += [r1, r2, r3, r4].filter((r) => r === 'killed').length
    }
    assert.ok(kills >= 10, `the commands were killed mid-way often enough (${kills} kills)`)

    // Then the stick goes back and forth undisturbed until everything is acked.
    for (let i = 0; i < 4; i++) {
      await carry(stick, camp, town)
      await carry(stick, town, camp)
    }
    const counts = messageIdCounts(town.data, bob.address)
    for (const id of ids) assert.equal(counts.get(id), 1, `${id} delivered exactly once`)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)
  } finally {
    await scene.destroy()
  }
})

test('a stick carries a bundle for another node: a neighbour that knows both ends takes it over unopened; a stranger leaves it', { timeout: 300_000 }, async () => {
  const camp = await startNode({ domain: 'camp.test' })
  const hub = await startNode({ domain: 'hub.test' })
  const town = await startNode({ domain: 'town.test' })
  const lone = await startNode({ domain: 'lone.test' })
  const stick = mkdtempSync(join(tmpdir(), 'op-stick-'))
  try {
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
    rmSync(stick, { recursive: true, force: true })
    await Promise.all([camp.destroy(), hub.destroy(), town.destroy(), lone.destroy()])
  }
})
