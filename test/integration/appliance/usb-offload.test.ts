// The USB flow end to end: two real nodes, one folder standing in for the
// stick, "plugged" into each in turn through `offload` with the simulated
// LED. Mail crosses, the LED blinks while the stick is worked and is steady
// when it is safe to remove, and a stick pulled halfway loses nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, rmSync } from 'node:fs'
import { campAndTown } from '../../helpers/stick.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import type { TestNode } from '../../helpers/node.js'
import { openNode } from '../../../server/context/context.js'
import { Exchange, exchangeServices } from '../../../server/exchange/exchange.js'
import { SimulatedLed } from '../../../server/appliance/gpio.js'
import { LedPatterns } from '../../../server/appliance/led.js'
import { offload, type OffloadResult, type StickExchange } from '../../../server/appliance/usb.js'
import { waitFor } from '../../helpers/wait.js'

/** Plugs the stick into a node: the same `offload` the unit runs, in this process, with a simulated LED on the real clock. */
async function plug(node: TestNode, stick: string, opts: { slow?: boolean; onExportProgress?: () => void } = {}): Promise<{ result: OffloadResult; led: SimulatedLed; patterns: LedPatterns }> {
  const ctx = openNode(node.data)
  const led = new SimulatedLed()
  const patterns = new LedPatterns(led)
  try {
    const x = new Exchange(ctx, exchangeServices(ctx))
    const exchange: StickExchange = {
      importFrom: (d, p) => x.importFrom(d, p),
      // A slow stick: it takes until the LED has blinked a few times.
      exportTo: async (d, p) => (opts.slow ? await waitFor('the LED to blink a few times', () => led.timeline.length >= 4, 30_000) : undefined, x.exportTo(d, p)),
    }
    const result = await offload(stick, {
      exchange,
      led: patterns,
      log: () => undefined,
      progress: { export: () => opts.onExportProgress?.() },
    })
    return { result, led, patterns }
  } finally {
    // Ends the minute-long "safe to remove" timer; the timeline is kept.
    patterns.close()
    ctx.close()
  }
}

/** The LED blinked (on, off, on, ...) while working, and its last change before close was to steady on. */
function assertBlinkedThenSteady(p: { led: SimulatedLed; patterns: LedPatterns }) {
  assert.deepEqual(p.patterns.history.map((h) => h.pattern), ['working', 'done'])
  const doneAt = p.patterns.history[1]!.t
  const working = p.led.timeline.filter((e) => e.t < doneAt)
  assert.ok(working.length >= 3, `blinked while working (${working.length} changes)`)
  assert.ok(working.every((e, i) => e.on === (i % 2 === 0)), 'alternating on and off')
  // The close() after the test turns it off; before that it was steady on since done.
  const after = p.led.timeline.filter((e) => e.t >= doneAt)
  assert.deepEqual(after.slice(0, -1).map((e) => e.on).filter((on) => !on), [], 'no off between done and close')
  assert.equal(after.length <= 2, true, 'steady: at most one change to on, then the close')
}

test('two nodes exchange mail by plugging the same stick into each in turn; the LED blinks, then is steady', { timeout: 300_000 }, async () => {
  const scene = await campAndTown()
  const { camp, town, stick, alice, bob } = scene
  try {
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'by stick', text: 'hello town\n', messageId: '<usb1@camp.test>' })
    c.close()

    const atCamp = await plug(camp, stick, { slow: true })
    assert.equal(atCamp.result.ok, true, atCamp.result.ok ? '' : atCamp.result.error)
    assert.equal(atCamp.result.exported.reduce((n, r) => n + r.messages, 0), 1)
    assertBlinkedThenSteady(atCamp)

    const atTown = await plug(town, stick, { slow: true })
    assert.equal(atTown.result.ok, true, atTown.result.ok ? '' : atTown.result.error)
    assertBlinkedThenSteady(atTown)
    assert.equal(messageIdCounts(town.data, bob.address).get('<usb1@camp.test>'), 1, 'the mail arrived at town, once')
    // Town's ack for it left on the same plug (import runs before export).
    assert.equal(atTown.result.exported.reduce((n, r) => n + r.acks, 0), 1)

    // Back at camp through the CLI the unit runs: the ack empties camp's outbox.
    const cli = await camp.cli(['usb', 'offload', stick])
    assert.equal(cli.code, 0, cli.stderr)
    assert.match(cli.stdout, /safe to remove/)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)
  } finally {
    await scene.destroy()
  }
})

test('a stick pulled halfway through the export loses nothing: the mail stays queued and arrives on the next good plug', { timeout: 300_000 }, async () => {
  const scene = await campAndTown()
  const { camp, town, stick, alice, bob } = scene
  try {
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'pulled', text: 'will it come?\n', messageId: '<usb2@camp.test>' })
    c.close()

    // The stick goes away as soon as the first bundle is on it.
    const pulled = await plug(camp, stick, { onExportProgress: () => rmSync(stick, { recursive: true, force: true }) })
    assert.equal(pulled.result.ok, false, 'a pulled stick is not reported as done')
    assert.match(pulled.result.ok ? '' : pulled.result.error, /went away.*Nothing is lost/)
    assert.deepEqual(pulled.patterns.history.map((h) => h.pattern), ['working', 'error'], 'the LED says: try again')
    assert.match((await camp.cli(['queue'])).stdout, /town: 1 messages/, 'the mail is still queued at camp')

    // Whatever the pulled stick held is gone; the person comes back with it (empty) or another one.
    rmSync(stick, { recursive: true, force: true })
    mkdirSync(stick)
    assert.equal((await plug(camp, stick)).result.ok, true)
    assert.equal((await plug(town, stick)).result.ok, true)
    assert.equal(messageIdCounts(town.data, bob.address).get('<usb2@camp.test>'), 1, 'arrived, once')
    assert.equal((await plug(camp, stick)).result.ok, true)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)
  } finally {
    await scene.destroy()
  }
})
