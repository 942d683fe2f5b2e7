// The node's idea of "now". A Raspberry Pi has no real-time clock and may
// boot with no network: its wall clock can start at the last shutdown
// (fake-hwclock, systemd-timesyncd's saved clock) or at 1970, and jump later
// when NTP or a person sets it. Everything that decides something from the
// time (bundle lifetimes, the HTTP signing window, the certificate's
// validity, mail expiry) asks this clock instead of Date.now().
//
// The rule: now() = max(wall clock, floor). The floor is a lower bound on
// the real time, taken from evidence that does not depend on today's wall
// clock being right:
//   - the floor stored in the settings table (`clock.floor`), saved while
//     the node runs and advanced by the monotonic clock, which counts real
//     seconds whatever the wall clock does;
//   - the newest modification time in the data dir (database, spool), when
//     no floor is stored yet (a node made before the floor existed);
//   - the build time of the installed software (its package.json);
//   - the `created` time of every bundle a trusted peer signed, unless it
//     lies more than PEER_LEAD_LIMIT_MS ahead of our own now() (see below).
//
// Mail expiry is the one destructive decision, so it gets its own, slower
// time (see expiryNow): it never jumps forward with the wall clock.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { settings } from '../db/schema.js'
import type { NodePaths } from '../paths.js'

/** What the rest of the node sees: one number, never below the floor. */
export interface NodeClock {
  now(): number
}

/**
 * A peer's bundle time further than this ahead of our clock is not taken
 * into the floor: one peer with a wrong clock (set to 2038 by hand) must not
 * drag every node it meets into the future. A box that was off for longer
 * than this, with no network, catches up with the next bundle that is
 * within reach, or with NTP.
 */
export const PEER_LEAD_LIMIT_MS = 7 * 24 * 60 * 60 * 1000
/**
 * Expiry's time may run ahead of real (monotonic) time by this much per
 * run, so it catches up after a restart or after the box was off, but a
 * wall clock that leaps a year ahead deletes at most this much extra mail
 * per hour of running, not everything at once.
 */
export const EXPIRY_CATCH_UP_MS = 60 * 60 * 1000

export const FLOOR_KEY = 'clock.floor'
export const EXPIRY_KEY = 'clock.expiry_at'

/** Where the floor is kept between runs: the settings table, or memory in tests. */
export interface FloorStore {
  get(key: string): number | undefined
  set(key: string, value: number): void
}

export function settingsFloorStore(db: Db): FloorStore {
  return {
    get(key) {
      const row = db.select().from(settings).where(eq(settings.key, key)).get()
      if (!row) return undefined
      const v = JSON.parse(row.value) as unknown
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined
    },
    set(key, value) {
      const now = Date.now()
      db.insert(settings)
        .values({ key, value: JSON.stringify(value), updatedAt: now })
        .onConflictDoUpdate({ target: settings.key, set: { value: JSON.stringify(value), updatedAt: now } })
        .run()
    },
  }
}

export function memoryFloorStore(init: Record<string, number> = {}): FloorStore {
  const m = new Map(Object.entries(init))
  return { get: (k) => m.get(k), set: (k, v) => void m.set(k, v) }
}

export interface FloorClockOptions {
  store: FloorStore
  /** Evidence read once at open: data-dir mtimes (used only when no floor is stored), the build time. */
  evidence?: { dataDirMtime?: number; buildTime?: number }
  /** The wall clock and a monotonic clock in ms; injectable so tests can set a wrong wall clock. */
  wall?: () => number
  monotonic?: () => number
  log?: (line: string) => void
}

export class FloorClock implements NodeClock {
  private floorBase: number
  private monoBase: number
  private readonly wall: () => number
  private readonly mono: () => number
  private readonly store: FloorStore
  private readonly log: (line: string) => void
  /** Expiry's last time, and the monotonic reading when it was taken in this process (undefined: from an earlier run). */
  private expiryMono: number | undefined

  constructor(opts: FloorClockOptions) {
    this.store = opts.store
    this.wall = opts.wall ?? Date.now
    this.mono = opts.monotonic ?? (() => performance.now())
    this.log = opts.log ?? (() => undefined)
    const stored = this.store.get(FLOOR_KEY)
    // Once a floor is stored it is the better record: mtimes were written by
    // the wall clock, so a clock that was once wrong far ahead would keep
    // pushing the floor up on every start after it was fixed.
    const fromDir = stored === undefined ? (opts.evidence?.dataDirMtime ?? 0) : 0
    this.floorBase = Math.max(stored ?? 0, fromDir, opts.evidence?.buildTime ?? 0)
    this.monoBase = this.mono()
  }

  /** The lower bound on the real time: the evidence plus the real seconds since it was read. */
  floor(): number {
    return Math.floor(this.floorBase + (this.mono() - this.monoBase))
  }

  now(): number {
    return Math.max(this.wall(), this.floor())
  }

  /** The wall clock is behind the floor: it is certainly wrong. */
  behind(): number {
    return Math.max(0, this.floor() - this.wall())
  }

  /**
   * A trusted peer signed a bundle at `t`: the real time is at least that,
   * unless the peer's clock is the wrong one. Returns whether the floor moved.
   */
  observePeerTime(t: number, peer: string): boolean {
    if (!Number.isFinite(t) || t <= this.floor()) return false
    if (t > this.now() + PEER_LEAD_LIMIT_MS) {
      this.log(`clock: ${peer}'s bundle is dated ${new Date(t).toISOString()}, more than ${PEER_LEAD_LIMIT_MS / 86_400_000} days ahead of this node's ${new Date(this.now()).toISOString()}; not taken as the time. If this node's clock is the wrong one, set it (date -s, or NTP).`)
      return false
    }
    this.floorBase = t
    this.monoBase = this.mono()
    this.save()
    return true
  }

  /** Stores the floor, so the next start (after a reboot without network) begins from it. */
  save(): void {
    this.store.set(FLOOR_KEY, this.floor())
  }

  /**
   * The time mail expiry deletes by: now(), but never before the last
   * expiry time (a clock that jumps back deletes nothing it did not delete
   * before) and never more than real elapsed time plus EXPIRY_CATCH_UP_MS
   * after it (a clock that leaps ahead cannot delete everything at once).
   * The first time ever, it starts from the floor: evidence, not the wall.
   */
  expiryNow(): number {
    const mono = this.mono()
    const last = this.store.get(EXPIRY_KEY) ?? this.floor()
    const elapsed = this.expiryMono === undefined ? 0 : mono - this.expiryMono
    const limit = last + elapsed + EXPIRY_CATCH_UP_MS
    const t = Math.max(last, Math.min(this.now(), limit))
    if (this.now() > limit) this.log(`clock: the clock says ${new Date(this.now()).toISOString()}; mail expiry catches up to it at most an hour ahead per hour, now at ${new Date(t).toISOString()}`)
    this.store.set(EXPIRY_KEY, t)
    this.expiryMono = mono
    return t
  }
}

/** The newest modification time of the database and the spool, 0 when there are none. */
export function dataDirMtime(paths: Pick<NodePaths, 'db' | 'spool'>): number {
  let newest = 0
  const see = (file: string) => {
    try {
      newest = Math.max(newest, statSync(file).mtimeMs)
    } catch {
      /* not there */
    }
  }
  for (const f of [paths.db, `${paths.db}-wal`]) see(f)
  try {
    for (const name of readdirSync(paths.spool)) see(join(paths.spool, name))
  } catch {
    /* no spool yet */
  }
  return Math.floor(newest)
}

/** A clock that is just the wall clock, for code that has no node (tests of pure parts). */
export const wallClock: NodeClock = { now: () => Date.now() }
