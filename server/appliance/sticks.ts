// The USB sticks the box can see, for the web admin: what is plugged in,
// "export/import now" (the same offload the udev unit runs) and "safe to
// remove". A stick is a directory under the mount root: the appliance's
// outpost-usb@.service mounts each one at /run/outpost/usb/<partition>
// (docs/appliance.md); another root is set with the `usb.mountRoot` setting.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import type { Db } from '../db/index.js'
import { getSetting } from '../db/settings.js'
import { isFinishedBundleName, STICK_FOLDER } from '../bundle/stick-layout.js'
import { listStickFolder } from '../bundle/stick-file.js'
import type { EventRecorder } from '../events/record.js'
import { execOk, type Exec } from '../base/exec.js'
import { offload, type OffloadResult, type StickExchange } from './usb.js'
import { LedPatterns } from './led.js'
import { SimulatedLed } from './gpio.js'
import { OutpostError } from '../base/errors.js'

export const DEFAULT_STICK_ROOT = '/run/outpost/usb'
export const STICK_ROOT_SETTING = 'usb.mountRoot'

export class StickError extends OutpostError {
  override name = 'StickError'
  constructor(
    message: string,
    readonly statusCode = 400,
  ) {
    super(message)
  }
}

export interface Stick {
  path: string
  /** The name a person recognises: the mount point's last part. */
  label: string
  /** Finished bundles on it, for any node. */
  bundles: number
  freeBytes: number
}

export function stickRoot(db: Db): string {
  return getSetting<string>(db, STICK_ROOT_SETTING) ?? DEFAULT_STICK_ROOT
}

function countBundles(stick: string): number {
  // Links on the stick are not followed, as the import does not follow them.
  const names = (folder: string): string[] => {
    try {
      const l = listStickFolder(folder)
      return l.kind === 'listed' ? l.names : []
    } catch {
      // Unreadable: the offload says so; the list only counts what it can.
      return []
    }
  }
  let n = 0
  for (const d of names(join(stick, STICK_FOLDER))) n += names(join(stick, STICK_FOLDER, d)).filter(isFinishedBundleName).length
  return n
}

export interface StickDeps {
  db: Db
  exchange: StickExchange
  events: EventRecorder
  exec: Exec
  log: (line: string) => void
}

export class StickService {
  #offloading: string | null = null

  constructor(private readonly deps: StickDeps) {}

  get root(): string {
    return stickRoot(this.deps.db)
  }

  /** The stick being offloaded now, if any. */
  get offloading(): string | null {
    return this.#offloading
  }

  /**
   * Sticks under the mount root: each directory that is a mount point (a
   * device of its own) or already holds an Outpost folder.
   */
  async list(): Promise<Stick[]> {
    const root = this.root
    let names: string[]
    let rootDev: number
    try {
      rootDev = statSync(root).dev
      names = readdirSync(root).sort()
    } catch {
      return []
    }
    const out: Stick[] = []
    for (const name of names) {
      const path = join(root, name)
      try {
        const st = statSync(path)
        if (!st.isDirectory() || (st.dev === rootDev && !existsSync(join(path, STICK_FOLDER)))) continue
        const fs = await statfs(path)
        out.push({ path, label: basename(path), bundles: countBundles(path), freeBytes: fs.bavail * fs.bsize })
      } catch {
        // Pulled while we looked: not plugged in any more.
      }
    }
    return out
  }

  /** A stick path given by a person: only a directory right under the mount root. */
  check(path: string): string {
    const root = resolve(this.root)
    const p = resolve(path)
    if (resolve(p, '..') !== root || !existsSync(p) || !statSync(p).isDirectory()) {
      throw new StickError(`${path} is not a stick: plugged sticks are folders right under ${root} (GET /api/usb lists them)`, 404)
    }
    return p
  }

  /**
   * Starts the offload (import, export, sync) of one stick and returns at
   * once; its progress goes out as `usb.offload` events. One at a time: the
   * box has one LED, and two offloads would fight over the outbox's acks.
   */
  startOffload(path: string): Promise<OffloadResult> {
    const p = this.check(path)
    if (this.#offloading) throw new StickError(`${this.#offloading} is being offloaded now; wait for it to finish`, 409)
    this.#offloading = p
    // The page shows this offload's progress; the box's LED stays with the
    // udev offload and the button, which own its GPIO line.
    const led = new LedPatterns(new SimulatedLed())
    return offload(p, { exchange: this.deps.exchange, led, log: this.deps.log, exec: this.deps.exec, events: this.deps.events }).finally(() => {
      led.close()
      this.#offloading = null
    })
  }

  /**
   * Makes a stick safe to pull: flushes its file system (each bundle was
   * fsynced already; this writes the directory entries and the FAT), then
   * unmounts it if this process may. Safe once the flush worked: pulling a
   * synced stick loses nothing (docs/appliance.md).
   */
  async eject(path: string): Promise<{ safe: boolean }> {
    const p = this.check(path)
    if (this.#offloading === p) throw new StickError(`${p} is being offloaded now; wait for it to finish`, 409)
    try {
      await execOk(this.deps.exec, 'sync', ['-f', p])
    } catch (err) {
      this.deps.log(`eject ${p}: sync failed: ${(err as Error).message}`)
      return { safe: false }
    }
    const r = await this.deps.exec('umount', [p])
    // Not a mount point, or mounted by systemd for another user: synced is enough.
    if (r.code !== 0) this.deps.log(`eject ${p}: synced; umount said (exit ${r.code}): ${r.stderr.trim()}`)
    return { safe: true }
  }
}
