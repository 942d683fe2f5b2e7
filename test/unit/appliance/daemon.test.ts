// The appliance daemon with the simulated LED and button on a manual clock,
// a real node's database and exchange, and a recorded exec standing in for
// systemd: a press starts the USB unit, whose offload (run here in-process,
// as the unit would run it) records events that the daemon shows on the LED.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initNode } from '../../../server/node/init.js'
import { openNode } from '../../../server/context/context.js'
import { exec as realExec, type Exec } from '../../../server/base/exec.js'
import { Exchange, exchangeServices } from '../../../server/exchange/exchange.js'
import { EventLog } from '../../../server/events/log.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { makeCard } from '../../../server/identity/card.js'
import { ManualClock, SimulatedButton, SimulatedLed } from '../../../server/appliance/gpio.js'
import { DONE_STEADY_MS, LedPatterns, WORKING_HALF_PERIOD_MS } from '../../../server/appliance/led.js'
import { offloadAndRecord, type StickExchange } from '../../../server/appliance/usb.js'
import { ApplianceDaemon } from '../../../server/appliance/daemon.js'

async function scene() {
  const dir = mkdtempSync(join(tmpdir(), 'op-daemon-'))
  const camp = await initNode({ data: join(dir, 'camp'), domain: 'camp.test', host: '127.0.0.1' }, realExec)
  const town = await initNode({ data: join(dir, 'town'), domain: 'town.test', host: '127.0.0.1' }, realExec)
  const node = openNode(camp.paths.data)
  const x = new Exchange(node, exchangeServices(node))
  x.peers.add(makeCard({ config: town.config, identity: loadIdentity(town.paths) }))
  x.outbox.enqueue({ messageId: 'e'.repeat(64), sender: 'alice@camp.test', data: Buffer.from('Subject: hi\r\n\r\nhello\r\n'), byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
  // The mount point outpost-usb@sdb1.service uses is /run/outpost/usb/sdb1: a folder named after the device stands in.
  const stick = join(dir, 'usb', 'sdb1')
  // A carrier's stick: prepared once with its outpost folder.
  mkdirSync(join(stick, 'outpost'), { recursive: true })
  const clock = new ManualClock()
  const led = new SimulatedLed(clock)
  const button = new SimulatedButton()
  const events = new EventLog(node.db)
  const devices = new Set<string>()
  const lines: string[] = []
  const calls: string[] = []
  let daemon: ApplianceDaemon | undefined
  /** What `systemctl start outpost-usb@sdb1.service` does: the offload, recording events; a slow stick lets the daemon see it work. */
  const runUnit = async () => {
    const slow: StickExchange = {
      importFrom: (d, p) => x.importFrom(d, p),
      exportTo: async (d, p) => {
        daemon!.poll()
        clock.advance(4 * WORKING_HALF_PERIOD_MS)
        return x.exportTo(d, p)
      },
    }
    const r = await offloadAndRecord(stick, { exchange: slow, led: new LedPatterns(new SimulatedLed()), events, log: () => undefined, exec: async () => ({ code: 0, stdout: '', stderr: '' }) })
    return r.ok ? 0 : 1
  }
  let poweroffExit = 0
  const exec: Exec = async (file, args) => {
    calls.push([file, ...args].join(' '))
    if (file === 'systemctl' && args[0] === 'start') return { code: await runUnit(), stdout: '', stderr: '' }
    if (file === 'systemctl' && args[0] === 'poweroff') return { code: poweroffExit, stdout: '', stderr: poweroffExit ? 'Access denied' : '' }
    return { code: 127, stdout: '', stderr: 'unexpected' }
  }
  daemon = new ApplianceDaemon({ events, led: new LedPatterns(led, clock), button, exec, log: (l) => lines.push(l), devicePresent: (d) => devices.has(d) })
  return {
    dir, node, x, stick, clock, led, button, events, devices, lines, calls, daemon, runUnit,
    failPoweroff: () => (poweroffExit = 1),
    done: () => (node.close(), rmSync(dir, { recursive: true, force: true })),
  }
}

/** LED changes in [from, to). */
const changes = (led: SimulatedLed, from: number, to = Infinity) => led.timeline.filter((e) => e.t >= from && e.t < to)

test('a stick plugged in: the unit offloads it, the LED blinks while it works, then is steady; pulling it records a safe removal', async () => {
  const s = await scene()
  try {
    s.daemon.poll()
    // udev starts the unit when the stick appears.
    s.devices.add('sdb1')
    assert.equal(await s.runUnit(), 0)
    s.daemon.poll()
    const kinds = s.events.recent({ kinds: ['usb.inserted', 'usb.offload', 'usb.removed'] }).reverse().map((e) => `${e.kind}${'phase' in e.data ? ':' + (e.data as { phase: string }).phase : ''}`)
    assert.deepEqual(kinds, ['usb.inserted', 'usb.offload:start', 'usb.offload:done'])
    assert.equal(readdirSync(join(s.stick, 'outpost', 'town')).length, 1, 'the bundle for town is on the stick')
    assert.equal(s.led.on, true, 'steady: safe to remove')
    s.devices.delete('sdb1')
    s.daemon.poll()
    const removed = s.events.recent({ kinds: ['usb.removed'] })[0]
    assert.deepEqual(removed?.data, { path: s.stick, safe: true })
  } finally {
    s.done()
  }
})

test('short press: the plugged stick is synced again through its unit, the LED blinks while exporting and is then steady for a minute', async () => {
  const s = await scene()
  try {
    s.devices.add('sdb1')
    await s.runUnit()
    s.daemon.poll()
    // More mail arrives while the carrier is still at the box.
    s.x.outbox.enqueue({ messageId: 'f'.repeat(64), sender: 'alice@camp.test', data: Buffer.from('Subject: more\r\n\r\nmore\r\n'), byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
    s.clock.advance(DONE_STEADY_MS)
    assert.equal(s.led.on, false, 'idle again after the minute')
    s.clock.advance(1000)
    const pressAt = s.clock.now()
    s.button.press('short')
    await s.daemon.idle()
    s.daemon.poll()
    assert.deepEqual(s.calls, ['systemctl start outpost-usb@sdb1.service'])
    const during = changes(s.led, pressAt)
    // on, off, on, off, on while working (2 Hz over a second), then steady on.
    assert.ok(during.length >= 4, `blinked while exporting: ${JSON.stringify(during)}`)
    assert.ok(during.slice(0, -1).every((e, i) => e.on === (i % 2 === 0)), 'alternating')
    assert.equal(s.led.on, true)
    const doneAt = s.clock.now()
    s.clock.advance(DONE_STEADY_MS - 1)
    assert.deepEqual(changes(s.led, doneAt + 1), [], 'steady for a minute')
    s.clock.advance(1)
    assert.equal(s.led.on, false)
    assert.equal(readdirSync(join(s.stick, 'outpost', 'town')).length, 2, 'the new mail went onto the stick')
  } finally {
    s.done()
  }
})

test('a stick pulled while it is worked: removal is recorded as not safe and the LED blinks fast', async () => {
  const s = await scene()
  try {
    s.devices.add('sdb1')
    s.events.record('usb.inserted', { path: s.stick })
    s.events.record('usb.offload', { path: s.stick, phase: 'start' })
    s.daemon.poll()
    // The unit is stopped by BindsTo= when the device goes: no done, no error is recorded.
    s.devices.delete('sdb1')
    s.daemon.poll()
    assert.deepEqual(s.events.recent({ kinds: ['usb.removed'] })[0]?.data, { path: s.stick, safe: false })
    const t = s.clock.now()
    s.clock.advance(1000)
    assert.ok(changes(s.led, t).length >= 14, 'fast blink: about 8 Hz')
    assert.match(s.lines.join('\n'), /removed before its offload finished; nothing is lost, plug it in again/)
  } finally {
    s.done()
  }
})

test('long press powers off through systemctl; no stick: a short press does nothing; a refused poweroff shows the error', async () => {
  const s = await scene()
  try {
    s.button.press('short')
    await s.daemon.idle()
    assert.deepEqual(s.calls, [])
    assert.match(s.lines.join('\n'), /no stick is plugged in/)
    s.button.press('long')
    await s.daemon.idle()
    assert.deepEqual(s.calls, ['systemctl poweroff'])
    s.failPoweroff()
    s.button.press('long')
    await s.daemon.idle()
    assert.match(s.lines.join('\n'), /systemctl poweroff failed \(exit 1\): Access denied.*polkit/)
    const t = s.clock.now()
    s.clock.advance(1000)
    assert.ok(changes(s.led, t).length >= 14, 'the error blinks fast')
    assert.equal(existsSync(s.stick), true)
  } finally {
    s.done()
  }
})

test('a daemon restarted while a stick is plugged still records its pull', async () => {
  const s = await scene()
  try {
    s.devices.add('sdb1')
    await s.runUnit()
    // Restart=always brought up a new daemon after the offload finished.
    const again = new ApplianceDaemon({ events: s.events, led: new LedPatterns(new SimulatedLed(s.clock), s.clock), button: new SimulatedButton(), exec: async () => ({ code: 0, stdout: '', stderr: '' }), log: () => undefined, devicePresent: (d) => s.devices.has(d) })
    assert.equal(again.pluggedStick(), s.stick)
    s.devices.delete('sdb1')
    again.poll()
    assert.deepEqual(s.events.recent({ kinds: ['usb.removed'] })[0]?.data, { path: s.stick, safe: true })
  } finally {
    s.done()
  }
})

test('with a ready signal the LED shows booting from the start and ready once the node answers', async () => {
  const s = await scene()
  try {
    let answers = false
    const led = new SimulatedLed(s.clock)
    const patterns = new LedPatterns(led, s.clock)
    const d = new ApplianceDaemon({ events: s.events, led: patterns, button: new SimulatedButton(), exec: async () => ({ code: 0, stdout: '', stderr: '' }), log: () => undefined, devicePresent: () => false, nodeReady: () => answers })
    d.start()
    try {
      d.poll()
      assert.equal(patterns.pattern, 'booting')
      assert.equal(led.on, true)
      answers = true
      d.poll()
      assert.equal(patterns.pattern, 'ready')
      d.poll()
      assert.deepEqual(patterns.history.map((h) => h.pattern), ['booting', 'ready'])
    } finally {
      d.stop()
    }
  } finally {
    s.done()
  }
})
