// The always-on radio: a node running `outpost start` keeps its LoRa
// transport's radio open between runs. Town's transport has no run
// scheduled (once a year), yet the bundle camp sends arrives, because
// town's radio listens all the time; the radio's figures are in town's
// database once it stops, so `outpost radio` shows them after a restart.
// The radios are simulated (socat pseudo-terminals, each frame held for its
// airtime at SF7/125 kHz); both nodes are real.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { campAndTown } from '../../helpers/stick.js'
import { OUTPOST_BIN, type CliResult, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { ptyRadioPair } from '../../helpers/radio-sim.js'
import { waitFor } from '../../helpers/wait.js'

const modulation = { sf: 7, bw: 125000, cr: 5, preamble: 8 }

/** `outpost transport run` past runCli's one minute. */
function transportRun(node: TestNode, id = '1'): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OUTPOST_BIN, 'transport', 'run', id, '--data', node.data], { encoding: 'utf8', timeout: 300_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

test('lora listener: town receives a bundle camp sends while town has no run scheduled, and keeps the radio\'s figures across a restart', { timeout: 600_000 }, async () => {
  const radio = await ptyRadioPair({ modulation, payload: 222, seed: 433 })
  const scene = await campAndTown()
  const { camp, town, alice, bob } = scene
  try {
    const common = ['--set', 'sf=7', '--set', 'bw=125000', '--set', 'listen_seconds=5']
    const never = ['--schedule', '0 0 1 1 *']
    let r = await town.cli(['transport', 'add', 'camp', 'lora', '--set', `port=${radio.ttys[1]}`, ...common, ...never])
    assert.equal(r.code, 0, r.stderr)
    // The running node picks the new transport up and opens its radio.
    await waitFor('town\'s radio listening', () => /lora: transport 1 listens for camp on/.test(town.output()), { timeoutMs: 60_000 })

    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'heard between runs', text: 'hello while you were not running\n', messageId: '<l1@camp.test>' })
    c.close()
    await waitFor('the message in camp\'s outbox', async () => /town: 1 messages/.test((await camp.cli(['queue'])).stdout))
    // Camp sends from the command line, as a node without `outpost start` would: stopped, it holds no radio.
    await camp.stop()
    r = await camp.cli(['transport', 'add', 'town', 'lora', '--set', `port=${radio.ttys[0]}`, ...common, ...never])
    assert.equal(r.code, 0, r.stderr)

    const sent = await transportRun(camp)
    assert.equal(sent.code, 0, `camp: ${sent.stderr}${sent.stdout}`)
    assert.match(sent.stdout, /sent 1 bundles \(1 messages and 0 acks sealed this run\) and received 0 from town by radio/)
    await waitFor('the message in bob\'s Maildir', () => messageIdCounts(town.data, bob.address).get('<l1@camp.test>') === 1, { timeoutMs: 60_000 })
    // Town never ran its transport: the listener alone took the bundle in.
    assert.match((await town.cli(['transport', 'list'])).stdout, /never run/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<l1@camp.test>'), 1)

    // Camp's run recorded what its radio did.
    const campRadio = JSON.parse((await camp.cli(['radio', '1', '--json'])).stdout)
    assert.ok(campRadio.day.framesSent >= 3, `camp sent a query and the bundle's fragments: ${JSON.stringify(campRadio.day)}`)
    assert.ok(campRadio.day.airtimeMs > 0 && campRadio.budget.usedMs > 0, JSON.stringify(campRadio))
    assert.equal(campRadio.listening, null)

    // Town's listener writes its figures when the node stops; a new start reads them.
    await town.stop()
    await town.restart()
    const townRadio = JSON.parse((await town.cli(['radio', '1', '--json'])).stdout)
    assert.ok(townRadio.day.framesReceived >= campRadio.day.framesSent - campRadio.day.framesResent, `town heard camp's frames: ${JSON.stringify(townRadio.day)}`)
    assert.ok(townRadio.day.framesSent >= 1, `town answered with ACKs: ${JSON.stringify(townRadio.day)}`)
    assert.match((await town.cli(['radio'])).stdout, /radio 1 to camp on .*\n.*SF7, 125 kHz/)
    console.log(`# camp radio: ${JSON.stringify(campRadio.day)}; town radio: ${JSON.stringify(townRadio.day)}; channel ${JSON.stringify(radio.channel.stats)}`)
  } finally {
    await scene.destroy()
    await radio.stop()
  }
})
