// The box's one LED and one button, behind one small interface with two
// drivers: the real one talks to the kernel's GPIO character device through
// libgpiod's command-line tools (Debian package `gpiod`), the simulated one
// records what it was told, so tests can assert an LED's timeline without
// hardware. Everything above this file (patterns, the USB flow) sees only
// `Led` and `Button`.
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Exec } from '../base/exec.js'

export interface Led {
  set(on: boolean): void
  /** Lets go of the line (the real driver ends its gpioset). */
  close(): void
}

export type PressKind = 'short' | 'long'

export interface Button {
  onPress(cb: (kind: PressKind) => void): void
  close(): void
}

/** Timers and time, injectable so LED patterns and press lengths run on a fake clock in tests. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

export interface GpioPins {
  /** The gpiochip, e.g. gpiochip0 (a Pi's 40-pin header). */
  chip: string
  /** Line offsets (BCM numbers on a Pi). */
  led: number
  button: number
  /** A press held at least this long is a long press. */
  longPressMs: number
}

// ---- simulated ------------------------------------------------------------

export interface LedEvent {
  t: number
  on: boolean
}

/** An LED that remembers every change with the clock's time; repeated sets of the same state are not changes. */
export class SimulatedLed implements Led {
  readonly timeline: LedEvent[] = []
  private state = false
  constructor(private readonly clock: Clock = realClock) {}
  set(on: boolean): void {
    if (on === this.state && this.timeline.length > 0) return
    this.state = on
    this.timeline.push({ t: this.clock.now(), on })
  }
  get on(): boolean {
    return this.state
  }
  close(): void {}
}

/** A button a test presses. */
export class SimulatedButton implements Button {
  private readonly listeners: ((kind: PressKind) => void)[] = []
  onPress(cb: (kind: PressKind) => void): void {
    this.listeners.push(cb)
  }
  press(kind: PressKind): void {
    for (const l of this.listeners) l(kind)
  }
  close(): void {
    this.listeners.length = 0
  }
}

// ---- libgpiod tools -------------------------------------------------------
//
// Two generations of the tools are in use, with different arguments:
//   - libgpiod 1.6 (Debian bookworm, Raspberry Pi OS based on it): the chip
//     is positional, gpioset exits at once unless told --mode=signal, and
//     gpiomon has no debouncing (done here instead) and must be told to
//     line-buffer its output into a pipe;
//   - libgpiod 2 (Debian trixie and later): -c CHIP, gpioset holds the line
//     until it is killed, gpiomon debounces with -p.
// `gpioset --version` says which ("gpioset (libgpiod) v1.6.3").

export type GpiodVersion = 1 | 2

export type Spawn = (file: string, args: readonly string[]) => ChildProcess

/** Reads the major version of libgpiod's tools from `gpioset --version`. */
export async function detectGpiodVersion(run: Exec): Promise<GpiodVersion> {
  let r: Awaited<ReturnType<Exec>>
  try {
    r = await run('gpioset', ['--version'])
  } catch (err) {
    throw new Error(`the LED and button need libgpiod's tools: ${(err as Error).message}. Install them (apt-get install gpiod), or set [gpio] enabled = false.`, { cause: err })
  }
  const m = /libgpiod\)?\s+v?(\d+)\./.exec(r.stdout + r.stderr)
  if (r.code !== 0 || !m) throw new Error(`cannot tell libgpiod's version from \`gpioset --version\` (exit ${r.code}): ${(r.stdout + r.stderr).trim().split('\n')[0] ?? ''}`)
  const major = Number(m[1])
  if (major === 1) return 1
  if (major === 2) return 2
  throw new Error(`libgpiod ${major}.x is not known to Outpost (it speaks the tools of 1.6 and 2.x); set [gpio] enabled = false until it does`)
}

/** The arguments of a gpioset that holds the LED line at the value until it is killed. */
export function gpiosetArgs(pins: Pick<GpioPins, 'chip' | 'led'>, on: boolean, version: GpiodVersion = 2): string[] {
  const value = `${pins.led}=${on ? 1 : 0}`
  // 1.6's default mode exits at once, and the line falls back when its
  // holder exits; "signal" holds it until SIGTERM, like 2's default.
  if (version === 1) return ['--mode=signal', pins.chip, value]
  return ['-c', pins.chip, '-C', 'outpost-led', value]
}

/** Debouncing of a mechanical button's chatter: done by the kernel with libgpiod 2, by GpiodButton with 1.6. */
export const DEBOUNCE_MS = 20

/**
 * The button connects its line to ground, so the line needs the internal
 * pull-up; pressed is a falling edge, released a rising one.
 */
export function gpiomonArgs(pins: Pick<GpioPins, 'chip' | 'button'>, version: GpiodVersion = 2): string[] {
  // 1.6 watches both edges when neither -r nor -f is given; its stdout is
  // a pipe here, which it would buffer for kilobytes without -b.
  if (version === 1) return ['--bias=pull-up', '--line-buffered', pins.chip, String(pins.button)]
  return ['-c', pins.chip, '-C', 'outpost-button', '-b', 'pull-up', '-p', `${DEBOUNCE_MS}ms`, '-e', 'both', String(pins.button)]
}

/** An LED on a GPIO line, held by one gpioset at a time. */
export class GpiodLed implements Led {
  private child: ChildProcess | undefined
  private wanted: boolean | undefined
  private applied: boolean | undefined
  private switching = false
  constructor(
    private readonly pins: Pick<GpioPins, 'chip' | 'led'>,
    private readonly spawn: Spawn = (f, a) => nodeSpawn(f, [...a], { stdio: ['ignore', 'ignore', 'inherit'] }),
    private readonly version: GpiodVersion = 2,
  ) {}
  set(on: boolean): void {
    if (on === this.wanted) return
    this.wanted = on
    // A switch in progress picks up the latest wish when it is done, so a
    // fast blink never queues up more gpiosets than the line can take.
    if (!this.switching) void this.apply()
  }
  /** Resolves once the line holds the last value asked for (tests wait on it). */
  async settled(): Promise<void> {
    while (this.switching) await new Promise((r) => setImmediate(r))
  }
  private async apply(): Promise<void> {
    this.switching = true
    try {
      while (this.wanted !== undefined && this.applied !== this.wanted) {
        const want = this.wanted
        // The kernel grants a line to one requester at a time: the old
        // gpioset must have exited before the next one asks, or that one
        // fails with "Device or resource busy".
        await this.release()
        const child = this.spawn('gpioset', gpiosetArgs(this.pins, want, this.version))
        child.on('error', (err) => console.error(`outpost: the LED cannot be set with gpioset (is the gpiod package installed?): ${err.message}`))
        this.child = child
        this.applied = want
      }
    } finally {
      this.switching = false
    }
  }
  private async release(): Promise<void> {
    const old = this.child
    this.child = undefined
    if (!old || old.exitCode !== null || old.signalCode !== null) return
    const gone = new Promise((r) => old.once('exit', r))
    old.kill()
    await gone
  }
  close(): void {
    this.wanted = undefined
    this.applied = undefined
    this.child?.kill()
    this.child = undefined
  }
}

/** A button on a GPIO line, watched by one long-running gpiomon. */
export class GpiodButton implements Button {
  private readonly listeners: ((kind: PressKind) => void)[] = []
  private readonly child: ChildProcess
  private pressedAt: number | undefined
  constructor(
    pins: Pick<GpioPins, 'chip' | 'button' | 'longPressMs'>,
    clock: Clock = realClock,
    spawn: Spawn = (f, a) => nodeSpawn(f, [...a], { stdio: ['ignore', 'pipe', 'inherit'] }),
    version: GpiodVersion = 2,
  ) {
    this.child = spawn('gpiomon', gpiomonArgs(pins, version))
    let lastEdge = -Infinity
    this.child.on('error', (err) => console.error(`outpost: the button cannot be watched with gpiomon (is the gpiod package installed?): ${err.message}`))
    // Both libgpiod 1 and 2 print the edge as a word ("falling"/"FALLING
    // EDGE"); the press is timed here rather than from gpiomon's timestamps,
    // whose format differs between the versions.
    if (this.child.stdout) {
      createInterface({ input: this.child.stdout }).on('line', (line) => {
        // libgpiod 1.6 cannot debounce: an edge hard on the heels of the
        // last one is the contacts bouncing, not a person.
        if (version === 1 && /falling|rising/i.test(line)) {
          const t = clock.now()
          const bounce = t - lastEdge < DEBOUNCE_MS
          lastEdge = t
          if (bounce) return
        }
        if (/falling/i.test(line)) this.pressedAt = clock.now()
        else if (/rising/i.test(line) && this.pressedAt !== undefined) {
          const held = clock.now() - this.pressedAt
          this.pressedAt = undefined
          const kind: PressKind = held >= pins.longPressMs ? 'long' : 'short'
          for (const l of this.listeners) l(kind)
        }
      })
    }
  }
  onPress(cb: (kind: PressKind) => void): void {
    this.listeners.push(cb)
  }
  close(): void {
    this.child.kill()
  }
}

/** A clock that moves only when told to: LED patterns and press timing run in tests without waiting. */
export class ManualClock implements Clock {
  private t = 0
  private seq = 0
  private readonly timers = new Map<number, { at: number; fn: () => void }>()
  now(): number {
    return this.t
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq
    this.timers.set(id, { at: this.t + ms, fn })
    return id
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e
      if (!next) break
      this.timers.delete(next[0])
      this.t = next[1].at
      next[1].fn()
    }
    this.t = end
  }
}

/** The real LED and button, with the tools' version asked once. */
export async function openGpiod(pins: GpioPins, run: Exec, clock: Clock = realClock): Promise<{ led: GpiodLed; button: GpiodButton; version: GpiodVersion }> {
  const version = await detectGpiodVersion(run)
  return { led: new GpiodLed(pins, undefined, version), button: new GpiodButton(pins, clock, undefined, version), version }
}
