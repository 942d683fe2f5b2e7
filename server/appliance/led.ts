// What the box's one LED says, as patterns a person can tell apart across a
// room: off when idle, a slow blink (2 Hz) while a stick is being written,
// steady on for a minute when the stick is safe to remove, a fast blink
// (8 Hz) when something failed and the stick should be tried again.
import { realClock, type Clock, type Led } from './gpio.js'

export type LedPattern = 'idle' | 'working' | 'done' | 'error'

/** Half a period of each blinking pattern: 2 Hz and 8 Hz. */
export const WORKING_HALF_PERIOD_MS = 250
export const ERROR_HALF_PERIOD_MS = 62
/** How long "safe to remove" stays on before the LED goes back to idle. */
export const DONE_STEADY_MS = 60_000

export class LedPatterns {
  private timer: unknown
  private current: LedPattern = 'idle'
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
    switch (pattern) {
      case 'idle':
        this.led.set(false)
        return
      case 'working':
        return this.blink(WORKING_HALF_PERIOD_MS)
      case 'error':
        return this.blink(ERROR_HALF_PERIOD_MS)
      case 'done':
        this.led.set(true)
        this.timer = this.clock.setTimeout(() => this.show('idle'), DONE_STEADY_MS)
        return
    }
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

  private stopTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }
}
