// The LoRa transport between two real Outpost nodes whose radios are
// simulated: each node opens a pseudo-terminal as its radio's serial port,
// and the simulator between them holds every frame for its real airtime at
// SF9/125 kHz, loses 10% and corrupts 2% (seeded). Both nodes run their
// transport at once, as their schedules would; mail goes camp → town, the
// ack comes back in the same session, and bob has the message once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { campAndTown } from '../../helpers/stick.js'
import { OUTPOST_BIN, type CliResult, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { ptyRadioPair } from '../../helpers/radio-sim.js'
import { waitFor } from '../../helpers/wait.js'
import { airtimeMs } from '../../../server/transports/lora/airtime.js'

const modulation = { sf: 9, bw: 125000, cr: 5, preamble: 8 }

/** `outpost transport run`, which holds the radio for as long as the session lasts (past runCli's one minute). */
function transportRun(node: TestNode, id = '1'): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OUTPOST_BIN, 'transport', 'run', id, '--data', node.data], { encoding: 'utf8', timeout: 600_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

test('lora transport: mail crosses a simulated SF9 radio link with 10% loss, once, and the ack comes back', { timeout: 900_000 }, async () => {
  const radio = await ptyRadioPair({ modulation, payload: 222, loss: 0.1, corrupt: 0.02, seed: 868 })
  const scene = await campAndTown()
  const { camp, town, alice, bob } = scene
  try {
    const never = ['--schedule', '0 0 1 1 *']
    const common = ['--set', 'sf=9', '--set', 'bw=125000', '--set', 'listen_seconds=20']
    let r = await camp.cli(['transport', 'add', 'town', 'lora', '--set', `port=${radio.ttys[0]}`, ...common, ...never])
    assert.equal(r.code, 0, r.stderr)
    r = await town.cli(['transport', 'add', 'camp', 'lora', '--set', `port=${radio.ttys[1]}`, ...common, ...never])
    assert.equal(r.code, 0, r.stderr)
    r = await camp.cli(['transport', 'add', 'town', 'lora', '--set', `port=${radio.ttys[0]}`, '--set', 'sf=13'])
    assert.match(r.stderr, /sf must be a whole number from 7 to 12/)

    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'by radio', text: 'hello over LoRa\n', messageId: '<r1@camp.test>' })
    c.close()
    await waitFor('the message in the outbox', async () => /town: 1 messages/.test((await camp.cli(['queue'])).stdout))

    const started = Date.now()
    let deliveredAfterMs = 0
    const delivered = waitFor('the message in bob\'s Maildir', async () => {
      if (messageIdCounts(town.data, bob.address).get('<r1@camp.test>') !== 1) return false
      deliveredAfterMs = Date.now() - started
      return true
    }, { timeoutMs: 700_000 })
    const [rc, rt] = await Promise.all([transportRun(camp), transportRun(town)])
    await delivered
    assert.equal(rc.code, 0, `camp: ${rc.stderr}${rc.stdout}`)
    assert.equal(rt.code, 0, `town: ${rt.stderr}${rt.stdout}`)
    assert.match(rc.stdout, /sent 1 bundles \(1 messages and 0 acks sealed this run\) and received 1 from town by radio/)
    assert.match(rt.stdout, /sent 1 bundles \(0 messages and 1 acks sealed this run\) and received 1 from camp by radio/)
    // The ack came back over the radio: nothing waits at camp.
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<r1@camp.test>'), 1)
    assert.ok(radio.channel.stats.dropped + radio.channel.stats.corrupted > 0, 'the channel did lose or corrupt frames')
    // No radio queue or half-received bundle is left behind on either side.
    for (const [node, peer] of [[camp, 'town'], [town, 'camp']] as const) {
      const out = join(node.data, 'spool', 'lora', peer, 'out')
      assert.deepEqual(existsSync(out) ? readdirSync(out) : [], [], `${node.domain}'s radio queue`)
      const inDir = join(node.data, 'spool', 'lora', peer, 'in')
      assert.deepEqual(existsSync(inDir) ? readdirSync(inDir).filter((n) => n !== 'done.json') : [], [], `${node.domain}'s half-received bundles`)
    }

    // A second session carries nothing again: bob still has it once.
    const [rc2, rt2] = await Promise.all([transportRun(camp), transportRun(town)])
    assert.match(rc2.stdout, /sent 0 bundles/)
    assert.match(rt2.stdout, /sent 0 bundles/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<r1@camp.test>'), 1)

    const full = airtimeMs(modulation, 222)
    console.log(`# lora SF9/125: delivered after ${(deliveredAfterMs / 1000).toFixed(1)} s; channel ${JSON.stringify(radio.channel.stats)}; a full frame ${full.toFixed(1)} ms`)
    console.log(`# camp: ${rc.stdout.trim()}`)
    console.log(`# town: ${rt.stdout.trim()}`)
  } finally {
    await scene.destroy()
    await radio.stop()
  }
})
