// The USB offload: what happens when someone plugs a stick into the box (or
// presses its button). The LED blinks while the stick is read and written,
// and is steady when the stick is safe to remove. Nothing here decides
// whether a message is delivered: that is the bundle exchange's job, whose
// rules (a bundle counts only once renamed into place; a message leaves the
// outbox only when its peer acks it) make a stick pulled at any moment safe.
import { lstatSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { STICK_FOLDER } from '../bundle/stick-layout.js'
import { exec as realExec, execOk, type Exec } from '../base/exec.js'
import type { ImportResult } from '../exchange/import.js'
import type { CarrierOptions, Progress } from '../exchange/run.js'
import type { ExportResult } from '../exchange/export.js'
import type { EventLog } from '../events/log.js'
import type { LedPatterns } from './led.js'
import { recordSafely, type EventRecorder } from '../events/record.js'

/** The part of the bundle exchange the offload uses (an `Exchange`). */
export interface StickExchange {
  exportTo(dir: string, progress?: Progress, opts?: CarrierOptions): Promise<ExportResult[]>
  importFrom(dir: string, progress?: Progress, opts?: CarrierOptions): Promise<ImportResult[]>
}

export interface OffloadDeps {
  exchange: StickExchange
  led: LedPatterns
  log: (line: string) => void
  /** Runs `sync`; tests may record it. */
  exec?: Exec
  progress?: { import?: Progress; export?: Progress }
  /** Where `usb.offload` start, progress, done and error are reported (the web admin's progress bar). */
  events?: EventRecorder
}

export type OffloadResult =
  /** `skipped`: the stick was left as it was, and why (see `notAnOutpostStick`). */
  | { ok: true; imported: ImportResult[]; exported: ExportResult[]; skipped?: string }
  | { ok: false; error: string; imported: ImportResult[]; exported: ExportResult[] }

/** The identity of the stick's root directory: a stick pulled and the mount point reused (or re-created) is a different directory. */
function identity(dir: string): string {
  const s = statSync(dir)
  return `${s.dev}:${s.ino}`
}

/**
 * Import what the stick carries for this node, export what waits for peers,
 * flush the stick, and say on the LED how it went. Never throws: the outcome
 * is the return value, and the LED shows it to whoever holds the stick.
 *
 * Import runs before export (not after) so that the acks for what was just
 * imported travel on this same stick, and the peer can drop those messages
 * from its outbox a whole trip earlier.
 */
export async function offload(stickDir: string, deps: OffloadDeps): Promise<OffloadResult> {
  const { exchange, led, log } = deps
  const run = deps.exec ?? realExec
  const imported: ImportResult[] = []
  const exported: ExportResult[] = []
  const report = (data: { phase: 'start' | 'progress' | 'done' | 'error'; done?: number; total?: number; error?: string }) =>
    recordSafely(deps.events, 'usb.offload', { path: stickDir, ...data }, log)
  const step = (mine?: Progress): Progress => (done, total, what) => {
    mine?.(done, total, what)
    report({ phase: 'progress', done, total })
  }
  led.show('working')
  report({ phase: 'start' })
  try {
    const before = identity(stickDir)
    imported.push(...(await exchange.importFrom(stickDir, step(deps.progress?.import), { via: 'usb' })))
    exported.push(...(await exchange.exportTo(stickDir, step(deps.progress?.export), { via: 'usb' })))
    // A stick pulled halfway leaves either no directory or an empty one
    // (the mount point, or one that writes re-created): then what this run
    // wrote went nowhere, and the LED must not say "safe to remove".
    const stillThere = () => {
      let now: string | undefined
      try {
        now = identity(stickDir)
      } catch {
        now = undefined
      }
      if (now !== before) throw new Error(`the stick at ${stickDir} went away during the offload`)
    }
    stillThere()
    // Each bundle was fsynced as it was written; `sync -f` flushes the
    // stick's file system as a whole (directory entries, the FAT), which is
    // what makes it safe to pull without unmounting first.
    await execOk(run, 'sync', ['-f', stickDir])
    stillThere()
    const messages = exported.reduce((n, r) => n + r.messages, 0)
    const acks = exported.reduce((n, r) => n + r.acks, 0)
    const bundlesIn = imported.filter((r) => r.outcome.kind === 'imported').length
    const swept = exported.reduce((n, r) => n + (r.swept ?? 0), 0)
    const cut = swept ? `; removed ${swept} unfinished bundle writes an earlier pull had cut short` : ''
    log(`offload ${stickDir}: imported ${bundlesIn} bundles; exported ${messages} messages and ${acks} acks for ${exported.map((r) => r.peer).join(', ') || 'no peer'}${cut}; safe to remove`)
    led.show('done')
    report({ phase: 'done', done: bundlesIn + exported.reduce((n, r) => n + r.bundles, 0), total: bundlesIn + exported.reduce((n, r) => n + r.bundles, 0) })
    return { ok: true, imported, exported }
  } catch (err) {
    const error = `offload of ${stickDir} failed: ${(err as Error).message}. Nothing is lost: mail stays queued until its peer acks it. Plug the stick in again (or try another stick).`
    log(error)
    led.show('error')
    report({ phase: 'error', error })
    return { ok: false, error, imported, exported }
  }
}

/** Where the events of an offload go: the node's EventLog (or a recorder in tests). */
export interface UsbEvents {
  record: EventLog['record']
  recent: EventLog['recent']
}

/**
 * Why a stick plugged into the box is not one to offload, or undefined when
 * it is: it must hold a plain `outpost` folder at its root (docs/appliance.md).
 * Any FAT stick matches the udev rule, and the box must not write bundles
 * onto a stranger's stick (a camera's card, someone's documents) just because
 * it was plugged into the port; a carrier prepares a stick once by making
 * that folder (or by an offload started from the web admin).
 */
export function notAnOutpostStick(stickDir: string): string | undefined {
  const folder = join(stickDir, STICK_FOLDER)
  try {
    if (lstatSync(folder).isDirectory()) return undefined
    return `${folder} is not a folder`
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return `no ${STICK_FOLDER} folder at the root of the stick at ${stickDir}`
    return `cannot read ${folder}: ${(err as Error).message}`
  }
}

/**
 * The offload as the USB unit runs it: the same flow, with its outcome
 * recorded as events, which the web admin shows live and the appliance
 * daemon turns into the LED's patterns (it owns the LED; this process
 * does not touch GPIO). `usb.inserted` is recorded only for the first run
 * after the stick appeared: a run started by the button is not a new stick.
 */
export async function offloadAndRecord(stickDir: string, deps: OffloadDeps & { events: UsbEvents }): Promise<OffloadResult> {
  const { events } = deps
  // Checked before anything is recorded: a stranger's stick is not a stick
  // of the box's, and the LED (which follows the events) stays as it was.
  const foreign = notAnOutpostStick(stickDir)
  if (foreign) {
    const skipped = `not an Outpost stick, left as it is (nothing read or written): ${foreign}. To carry mail on it, make a folder named ${STICK_FOLDER} at its root and plug it in again.`
    deps.log(`offload ${stickDir}: ${skipped}`)
    return { ok: true, imported: [], exported: [], skipped }
  }
  const [last] = events.recent({ limit: 1, kinds: ['usb.inserted', 'usb.removed'] })
  if (!last || last.kind !== 'usb.inserted' || (last.data as { path: string }).path !== stickDir) events.record('usb.inserted', { path: stickDir })
  // The offload itself records its start, progress, done or error.
  return offload(stickDir, deps)
}
