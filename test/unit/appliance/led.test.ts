// The LED patterns a person reads across a room, asserted on the simulated
// LED's timeline with a clock that moves only when the test says so.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import type { ChildProcess } from 'node:child_process'
import { GpiodButton, GpiodLed, ManualClock, SimulatedLed, detectGpiodVersion, gpiomonArgs, gpiosetArgs, type PressKind } from '../../../server/appliance/gpio.js'
import { exec, type Exec } from '../../../server/base/exec.js'
import { DONE_STEADY_MS, LedPatterns, READY_FLASH_MS, READY_PERIOD_MS } from '../../../server/appliance/led.js'

/** Times at which the LED turned on/off within [from, to). */
function changes(led: SimulatedLed, from: number, to: number) {
  return led.timeline.filter((e) => e.t >= from && e.t < to)
}

test('working blinks at 2 Hz, then done is steady for a minute, then idle', () => {
  const clock = new ManualClock()
  const led = new SimulatedLed(clock)
  const p = new LedPatterns(led, clock)
  p.show('working')
  clock.advance(3000)
  p.show('done')
  clock.advance(DONE_STEADY_MS - 1)
  assert.equal(led.on, true, 'still steady just before the minute is up')
  clock.advance(1)
  assert.equal(led.on, false, 'back to idle after a minute')
  assert.equal(p.pattern, 'idle')

  const work = changes(led, 0, 3000)
  // 3 s at 2 Hz: 12 changes (on, off, on, ...), one every 250 ms.
  assert.equal(work.length, 12)
  assert.deepEqual(work.map((e) => e.on), Array.from({ length: 12 }, (_, i) => i % 2 === 0))
  assert.ok(work.every((e, i) => e.t === i * 250))
  // Steady: the LED turned on at 3000 (it was off after 2750) and did not change for a minute.
  assert.deepEqual(changes(led, 3000, 3000 + DONE_STEADY_MS), [{ t: 3000, on: true }])
  assert.deepEqual(led.timeline.at(-1), { t: 3000 + DONE_STEADY_MS, on: false })
  assert.deepEqual(p.history.map((h) => h.pattern), ['working', 'done', 'idle'])
})

test('booting is steady on; ready is a short flash every two seconds; after a stick it goes back to ready, not off', () => {
  const clock = new ManualClock()
  const led = new SimulatedLed(clock)
  const p = new LedPatterns(led, clock)
  p.show('booting')
  clock.advance(10_000)
  assert.deepEqual(led.timeline, [{ t: 0, on: true }], 'steady while booting')
  p.ready()
  assert.equal(p.pattern, 'ready')
  clock.advance(3 * READY_PERIOD_MS)
  // From 10 s: on for 100 ms, off for the rest of each 2 s period.
  const beat = changes(led, 10_000, 10_000 + 3 * READY_PERIOD_MS)
  assert.deepEqual(beat, [0, 1, 2].flatMap((i) => [{ t: 10_000 + i * READY_PERIOD_MS, on: true }, { t: 10_000 + i * READY_PERIOD_MS + READY_FLASH_MS, on: false }]).slice(1))
  // A stick is written and is safe to remove: then the heartbeat again.
  p.show('working')
  clock.advance(1000)
  p.show('done')
  clock.advance(DONE_STEADY_MS)
  assert.equal(p.pattern, 'ready')
  assert.deepEqual(p.history.map((h) => h.pattern), ['booting', 'ready', 'working', 'done', 'ready'])
})

test('ready while a stick is shown does not hide it; the heartbeat follows', () => {
  const clock = new ManualClock()
  const p = new LedPatterns(new SimulatedLed(clock), clock)
  p.show('booting')
  p.show('working')
  p.ready()
  assert.equal(p.pattern, 'working')
  p.show('done')
  clock.advance(DONE_STEADY_MS)
  assert.equal(p.pattern, 'ready')
})

test('error blinks fast (about 8 Hz) until something else is shown', () => {
  const clock = new ManualClock()
  const led = new SimulatedLed(clock)
  const p = new LedPatterns(led, clock)
  p.show('error')
  clock.advance(1000)
  const n = changes(led, 0, 1000).length
  assert.ok(n >= 15 && n <= 17, `about 16 changes a second, got ${n}`)
  p.show('idle')
  const before = led.timeline.length
  clock.advance(5000)
  assert.equal(led.timeline.length, before, 'no blinking after idle')
  assert.equal(led.on, false)
})

function fakeChild(): ChildProcess & { stdout: PassThrough; killed: boolean } {
  const c = new EventEmitter() as unknown as ChildProcess & { stdout: PassThrough; killed: boolean }
  Object.assign(c, {
    stdout: new PassThrough(),
    killed: false,
    exitCode: null,
    signalCode: null,
    kill: () => {
      ;(c as { killed: boolean }).killed = true
      // Like a real process: it is gone a moment later, not at once.
      setImmediate(() => {
        Object.assign(c, { signalCode: 'SIGTERM' })
        c.emit('exit', null, 'SIGTERM')
      })
      return true
    },
  })
  return c
}

test('the libgpiod driver: gpioset holds the LED line, gpiomon edges become short and long presses', async () => {
  assert.deepEqual(gpiosetArgs({ chip: 'gpiochip0', led: 17 }, true), ['-c', 'gpiochip0', '-C', 'outpost-led', '17=1'])
  assert.deepEqual(gpiomonArgs({ chip: 'gpiochip0', button: 27 }), ['-c', 'gpiochip0', '-C', 'outpost-button', '-b', 'pull-up', '-p', '20ms', '-e', 'both', '27'])

  const spawned: { file: string; args: readonly string[]; child: ReturnType<typeof fakeChild> }[] = []
  let overlaps = 0
  const spawn = (file: string, args: readonly string[]) => {
    // The kernel gives a line to one holder at a time: no gpioset may start while another still runs.
    if (file === 'gpioset' && spawned.some((s) => s.file === 'gpioset' && s.child.signalCode === null)) overlaps++
    const child = fakeChild()
    spawned.push({ file, args, child })
    return child
  }
  const led = new GpiodLed({ chip: 'gpiochip0', led: 17 }, spawn)
  led.set(true)
  led.set(true)
  led.set(false)
  await led.settled()
  assert.deepEqual(spawned.map((s) => s.args.at(-1)), ['17=1', '17=0'], 'one gpioset per change')
  assert.equal(spawned[0]!.child.killed, true, 'the old holder lets go')
  // A fast blink while a switch is pending collapses to the last value.
  led.set(true)
  led.set(false)
  led.set(true)
  await led.settled()
  assert.deepEqual(spawned.map((s) => s.args.at(-1)), ['17=1', '17=0', '17=1'])
  assert.equal(overlaps, 0, 'each gpioset started only after the previous one had exited')
  led.close()
  assert.equal(spawned[1]!.child.killed, true)

  const clock = new ManualClock()
  const button = new GpiodButton({ chip: 'gpiochip0', button: 27, longPressMs: 3000 }, clock, spawn)
  const presses: PressKind[] = []
  button.onPress((k) => presses.push(k))
  const mon = spawned.at(-1)!
  assert.equal(mon.file, 'gpiomon')
  const line = async (s: string) => {
    mon.child.stdout.write(`${s}\n`)
    await new Promise((r) => setImmediate(r))
  }
  await line('12345.678\tfalling\tgpiochip0 27')
  clock.advance(200)
  await line('12345.878\trising\tgpiochip0 27')
  await line('event: FALLING EDGE offset: 27 timestamp: [1.2]')
  clock.advance(3500)
  await line('event:  RISING EDGE offset: 27 timestamp: [4.7]')
  assert.deepEqual(presses, ['short', 'long'])
  button.close()
  assert.equal(mon.child.killed, true)
})

test('libgpiod 1.6 (bookworm): gpioset holds the line in signal mode, gpiomon line-buffers, and bounces are ignored', async () => {
  assert.deepEqual(gpiosetArgs({ chip: 'gpiochip0', led: 17 }, true, 1), ['--mode=signal', 'gpiochip0', '17=1'])
  assert.deepEqual(gpiosetArgs({ chip: 'gpiochip0', led: 17 }, false, 1), ['--mode=signal', 'gpiochip0', '17=0'])
  assert.deepEqual(gpiomonArgs({ chip: 'gpiochip0', button: 27 }, 1), ['--bias=pull-up', '--line-buffered', 'gpiochip0', '27'])

  const spawned: { file: string; args: readonly string[]; child: ReturnType<typeof fakeChild> }[] = []
  const spawn = (file: string, args: readonly string[]) => {
    const child = fakeChild()
    spawned.push({ file, args, child })
    return child
  }
  const led = new GpiodLed({ chip: 'gpiochip0', led: 17 }, spawn, 1)
  led.set(true)
  await led.settled()
  led.set(false)
  await led.settled()
  assert.deepEqual(spawned.map((s) => [s.file, ...s.args]), [
    ['gpioset', '--mode=signal', 'gpiochip0', '17=1'],
    ['gpioset', '--mode=signal', 'gpiochip0', '17=0'],
  ])
  led.close()

  const clock = new ManualClock()
  const button = new GpiodButton({ chip: 'gpiochip0', button: 27, longPressMs: 3000 }, clock, spawn, 1)
  const presses: PressKind[] = []
  button.onPress((k) => presses.push(k))
  const mon = spawned.at(-1)!
  assert.deepEqual([mon.file, ...mon.args], ['gpiomon', '--bias=pull-up', '--line-buffered', 'gpiochip0', '27'])
  const line = async (s: string) => {
    mon.child.stdout.write(`${s}\n`)
    await new Promise((r) => setImmediate(r))
  }
  // 1.6's own output format; the contacts chatter for a few ms on the press.
  await line('event: FALLING EDGE offset: 27 timestamp: [     105.120000000]')
  clock.advance(3)
  await line('event:  RISING EDGE offset: 27 timestamp: [     105.123000000]')
  clock.advance(3)
  await line('event: FALLING EDGE offset: 27 timestamp: [     105.126000000]')
  clock.advance(300)
  await line('event:  RISING EDGE offset: 27 timestamp: [     105.426000000]')
  assert.deepEqual(presses, ['short'], 'one press, not three')
  clock.advance(1000)
  await line('event: FALLING EDGE offset: 27 timestamp: [     110.000000000]')
  clock.advance(4000)
  await line('event:  RISING EDGE offset: 27 timestamp: [     114.000000000]')
  assert.deepEqual(presses, ['short', 'long'])
  button.close()
})

test("the tools' version is read from gpioset --version through the exec seam", async () => {
  const answers: Record<string, string> = {
    bookworm: 'gpioset (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n',
    trixie: 'gpioset (libgpiod) v2.1.3\nCopyright (C) 2017-2023 Bartosz Golaszewski\n',
  }
  for (const [release, want] of [['bookworm', 1], ['trixie', 2]] as const) {
    const calls: string[] = []
    const run: Exec = async (file, args) => (calls.push([file, ...args].join(' ')), { code: 0, stdout: answers[release]!, stderr: '' })
    assert.equal(await detectGpiodVersion(run), want, release)
    assert.deepEqual(calls, ['gpioset --version'])
  }
  const missing: Exec = async () => Promise.reject(Object.assign(new Error('gpioset is not installed or not on PATH'), { code: 'ENOENT' }))
  await assert.rejects(detectGpiodVersion(missing), /apt-get install gpiod.*enabled = false/)
  const odd: Exec = async () => ({ code: 0, stdout: 'gpioset (libgpiod) v3.0.0\n', stderr: '' })
  await assert.rejects(detectGpiodVersion(odd), /libgpiod 3\.x is not known/)
})

test('the installed gpiod tools accept every option the driver passes them', async () => {
  // CI installs Debian's gpiod (1.6 on bookworm, 2.x on trixie): this is
  // the check that the argument lists above match the real tools.
  const version = await detectGpiodVersion(exec)
  const pins = { chip: 'gpiochip0', led: 17, button: 27 }
  for (const [tool, args] of [['gpioset', gpiosetArgs(pins, true, version)], ['gpiomon', gpiomonArgs(pins, version)]] as const) {
    const help = (await exec(tool, ['--help'])).stdout
    for (const a of args.filter((x) => x.startsWith('-'))) {
      const flag = a.split('=')[0]!
      assert.match(help, new RegExp(`(^|[\\s,])${flag.replace(/[-]/g, '\\-')}[\\s,=:]`, 'm'), `${tool} ${version === 1 ? '1.6' : '2'} knows ${flag}`)
    }
  }
})
