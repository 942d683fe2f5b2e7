// What the box's one LED says, as patterns a person can tell apart across a
// room: steady on while the box boots, then a short flash every two seconds
// (a heartbeat) once the node answers; a slow blink (2 Hz) while a stick is
// being written, steady on for a minute when the stick is safe to remove,
// a fast blink (8 Hz) when something failed and the stick should be tried
// again. Off when idle: no node is starting or ready (or nothing says so).
import { realClock, type Clock, type Led } from './gpio.js'

export type LedPattern = 'idle' | 'booting' | 'ready' | 'working' | 'done' | 'error'

/** Half a period of each blinking pattern: 2 Hz and 8 Hz. */
export const WORKING_HALF_PERIOD_MS = 250
export const ERROR_HALF_PERIOD_MS = 62
/** How long "safe to remove" stays on before the LED goes back to idle (or ready). */
export const DONE_STEADY_MS = 60_000
/** The ready heartbeat: lit this long, once every period. */
export const READY_FLASH_MS = 100
export const READY_PERIOD_MS = 2000

export class LedPatterns {
  private timer: unknown
  private current: LedPattern = 'idle'
  /** What "safe to remove" goes back to: ready once the node has answered. */
  private resting: 'idle' | 'ready' = 'idle'
  /** Every pattern shown, with the clock's time, for logs and tests. */
  readonly history: { t: number; pattern: LedPattern }[] = []

  constructor(
    private readonly led: Led,
    private readonly clock: Clock = realClock,
  ) {}

  get pattern(): LedPattern {
    return this.current
  }

  show(pattern: LedPattern): void {
    this.stopTimer()
    this.current = pattern
    this.history.push({ t: this.clock.now(), pattern })
    if (pattern === 'ready') this.resting = 'ready'
    switch (pattern) {
      case 'idle':
        this.led.set(false)
        return
      case 'booting':
        this.led.set(true)
        return
      case 'ready':
        return this.heartbeat()
      case 'working':
        return this.blink(WORKING_HALF_PERIOD_MS)
      case 'error':
        return this.blink(ERROR_HALF_PERIOD_MS)
      case 'done':
        this.led.set(true)
        this.timer = this.clock.setTimeout(() => this.show(this.resting), DONE_STEADY_MS)
        return
    }
  }

  /**
   * The node answers: the heartbeat, unless a stick's pattern is showing
   * (it then goes back to the heartbeat instead of off).
   */
  ready(): void {
    this.resting = 'ready'
    if (this.current === 'idle' || this.current === 'booting') this.show('ready')
  }

  /** Stops the timers and turns the LED off (on shutdown of the process). */
  close(): void {
    this.stopTimer()
    this.led.set(false)
  }

  private blink(halfPeriod: number): void {
    // Starts lit, so the very first moment of work is visible.
    let on = true
    this.led.set(on)
    const tick = () => {
      on = !on
      this.led.set(on)
      this.timer = this.clock.setTimeout(tick, halfPeriod)
    }
    this.timer = this.clock.setTimeout(tick, halfPeriod)
  }

  private heartbeat(): void {
    const flash = () => {
      this.led.set(true)
      this.timer = this.clock.setTimeout(() => {
        this.led.set(false)
        this.timer = this.clock.setTimeout(flash, READY_PERIOD_MS - READY_FLASH_MS)
      }, READY_FLASH_MS)
    }
    flash()
  }

  private stopTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }
}
