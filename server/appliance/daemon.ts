// The appliance daemon (`outpost appliance run`, outpost-appliance.service):
// the one process that owns the box's LED and button.
//
// It does no offload work itself. The offload runs in outpost-usb@.service
// (started by udev when a stick appears), which records `usb.inserted` and
// `usb.offload` events in the node's event log; this daemon follows that log
// and shows each phase on the LED, notices when the stick's device goes away
// (recording `usb.removed`, safe or not), and turns button presses into
// systemctl calls: the unit mounts, offloads and unmounts as root, which this
// unprivileged daemon cannot do, and a polkit rule (appliance/
// 50-outpost.rules) lets the outpost user start exactly those units and
// power the box off.
import { existsSync } from 'node:fs'
import { basename } from 'node:path'
import type { Exec } from '../base/exec.js'
import type { OutpostEvent } from '../events/types.js'
import type { Button, PressKind } from './gpio.js'
import type { LedPatterns } from './led.js'

/** The part of the EventLog the daemon uses. */
export interface DaemonEvents {
  record: (kind: 'usb.removed', data: { path: string; safe: boolean }) => unknown
  since(afterId: number): OutpostEvent[]
  lastId(): number
  /** The newest events of some kinds, newest first (EventLog.recent). */
  recent(opts: { limit?: number; kinds?: OutpostEvent['kind'][] }): OutpostEvent[]
}

export interface DaemonDeps {
  events: DaemonEvents
  led: LedPatterns
  button: Button
  exec: Exec
  log: (line: string) => void
  /** Whether the stick's block device (sdb1) is still there; /sys/class/block by default. */
  devicePresent?: (device: string) => boolean
  /** How often the event log and the devices are looked at. */
  pollMs?: number
  /**
   * Whether the node answers (the image's outpost-ready.service leaves a
   * file in /run once /api/health does). Given, the LED shows "booting"
   * until then and "ready" after; not given, it stays off when idle.
   */
  nodeReady?: () => boolean
}

type StickState = 'plugged' | 'working' | 'done' | 'error'

/** The mount point is /run/outpost/usb/<device> (outpost-usb@.service): its last part names the device. */
export function deviceOf(path: string): string {
  return basename(path)
}

/** A device name udev hands to outpost-usb@%k: only what a kernel block device is called. */
const DEVICE = /^[A-Za-z0-9]+$/

export class ApplianceDaemon {
  private last: number
  private timer: NodeJS.Timeout | undefined
  /** Sticks seen, by mount path, in the order they appeared. */
  private readonly sticks = new Map<string, StickState>()
  private chain: Promise<void> = Promise.resolve()
  private readonly present: (device: string) => boolean
  private ready = false

  constructor(private readonly deps: DaemonDeps) {
    // Events from before this start are history: a stick offloaded
    // yesterday must not light the LED today.
    this.last = deps.events.lastId()
    // ...but a stick plugged before a restart (Restart=always) is still
    // plugged: its state is taken from the log, without the LED, so its
    // pull is still recorded.
    const usb = deps.events.recent({ limit: 100, kinds: ['usb.inserted', 'usb.offload', 'usb.removed'] })
    for (const ev of usb.reverse()) if (ev.id <= this.last) this.apply(ev, false)
    this.present = deps.devicePresent ?? ((d) => existsSync(`/sys/class/block/${d}`))
    deps.button.onPress((kind) => {
      this.chain = this.chain.then(() => this.press(kind)).catch((err: Error) => deps.log(`button: ${err.message}`))
    })
  }

  start(): void {
    this.deps.led.show(this.deps.nodeReady ? 'booting' : 'idle')
    this.checkReady()
    this.timer = setInterval(() => {
      try {
        this.poll()
      } catch (err) {
        // A busy database is looked at again on the next tick.
        this.deps.log(`appliance: ${(err as Error).message}`)
      }
    }, this.deps.pollMs ?? 250)
  }

  /** Resolves when the presses so far are handled (tests, and a clean stop). */
  idle(): Promise<void> {
    return this.chain
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.deps.button.close()
    this.deps.led.close()
  }

  private checkReady(): void {
    if (this.ready || !this.deps.nodeReady?.()) return
    this.ready = true
    this.deps.led.ready()
    this.deps.log('the node answers: LED ready')
  }

  /** Reads new events and checks the sticks' devices: what the timer runs. */
  poll(): void {
    this.checkReady()
    for (const ev of this.deps.events.since(this.last)) {
      this.last = ev.id
      this.apply(ev)
    }
    for (const [path, state] of this.sticks) {
      if (this.present(deviceOf(path))) continue
      // Safe only if the last run finished: synced and unmounted.
      const safe = state === 'done'
      this.sticks.delete(path)
      this.deps.events.record('usb.removed', { path, safe })
      this.deps.log(`stick ${path} removed${safe ? '' : ' before its offload finished; nothing is lost, plug it in again'}`)
      // A stick pulled mid-work: the fast blink tells the carrier to plug it in again.
      if (state === 'working') this.deps.led.show('error')
    }
  }

  private apply(ev: OutpostEvent, show = true): void {
    const led = show ? this.deps.led : undefined
    if (ev.kind === 'usb.inserted') {
      const { path } = ev.data as { path: string }
      this.sticks.set(path, 'plugged')
    } else if (ev.kind === 'usb.offload') {
      const d = ev.data as { path: string; phase: string }
      if (d.phase === 'start') {
        this.sticks.set(d.path, 'working')
        led?.show('working')
      } else if (d.phase === 'done') {
        this.sticks.set(d.path, 'done')
        led?.show('done')
      } else if (d.phase === 'error') {
        this.sticks.set(d.path, 'error')
        led?.show('error')
      }
    } else if (ev.kind === 'usb.removed') {
      this.sticks.delete((ev.data as { path: string }).path)
    }
  }

  /** The newest stick whose device is still there. */
  pluggedStick(): string | undefined {
    return [...this.sticks.keys()].reverse().find((p) => this.present(deviceOf(p)))
  }

  private async press(kind: PressKind): Promise<void> {
    const { exec, log, led } = this.deps
    if (kind === 'long') {
      log('long press: shutting down safely')
      led.show('idle')
      const r = await exec('systemctl', ['poweroff'])
      if (r.code !== 0) {
        log(`systemctl poweroff failed (exit ${r.code}): ${r.stderr.trim()}. Is the polkit rule 50-outpost.rules installed?`)
        led.show('error')
      }
      return
    }
    const stick = this.pluggedStick()
    if (!stick) {
      log('short press: no stick is plugged in; nothing to do')
      return
    }
    const device = deviceOf(stick)
    if (!DEVICE.test(device)) {
      log(`short press: ${stick} does not name a block device; not offloading it`)
      return
    }
    // The unit mounts the stick again (its first run unmounted it), runs
    // the offload, which records its events (the LED follows them), and
    // unmounts it. `systemctl start` returns when the oneshot is done.
    log(`short press: syncing ${stick} now`)
    const r = await exec('systemctl', ['start', `outpost-usb@${device}.service`], { timeoutMs: 31 * 60_000 })
    if (r.code !== 0) {
      log(`systemctl start outpost-usb@${device}.service failed (exit ${r.code}): ${r.stderr.trim()}. See journalctl -u outpost-usb@${device}.service.`)
      led.show('error')
    }
  }
}
