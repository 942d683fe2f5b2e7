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
//     lies more than PEER_LEAD_LIMIT_MS ahead of the time this node can
//     vouch for itself (see below).
//
// A peer's word can move the floor, but never far: the time the node vouches
// for (vouched()) is the wall clock, or its own evidence plus the monotonic
// seconds since, whichever is later, and it never takes a peer's time in.
// A bundle dated more than PEER_LEAD_LIMIT_MS after that moves nothing, so
// however many bundles a rogue peer signs, the floor stays within that lead
// of the node's own time. The admin sees the floor and what set it
// (`outpost status`, GET /api/clock) and can reset it to the vouched time
// (`outpost clock reset`, POST /api/clock/reset).
//
// Mail expiry is the one destructive decision, so it gets its own, slower
// time (see expiryNow): it never jumps forward with the wall clock.
import { statSync } from 'node:fs'
import type { NodePaths } from './paths.js'

/** What the rest of the node sees: one number, never below the floor. */
export interface NodeClock {
  now(): number
}

/**
 * How far a peer's bundle time may lie ahead of the time this node vouches
 * for and still move the floor. Big enough for a box without a real-time
 * clock that was off for a day or two to learn the time from the first
 * stick; small enough that a rogue peer cannot push the floor (and with it
 * every refusal of an honest request as "behind") further than this. A box
 * off for longer learns the time from NTP or from a person (`date -s`).
 */
export const PEER_LEAD_LIMIT_MS = 2 * 24 * 60 * 60 * 1000
/**
 * Expiry's time may run ahead of real (monotonic) time by this much per
 * run, so it catches up after a restart or after the box was off, but a
 * wall clock that leaps a year ahead deletes at most this much extra mail
 * per hour of running, not everything at once.
 */
export const EXPIRY_CATCH_UP_MS = 60 * 60 * 1000

export const FLOOR_KEY = 'clock.floor'
export const EXPIRY_KEY = 'clock.expiry_at'
/** The time the node vouches for from its own evidence, never from a peer's. */
export const VOUCHED_KEY = 'clock.vouched'
/** What last set the floor (FloorSource, as JSON). */
export const FLOOR_SOURCE_KEY = 'clock.floor_source'
/** When the floor was last reset: another process (the CLI) tells the running node this way. */
export const RESET_KEY = 'clock.reset_at'

/** What the floor was last taken from. */
export interface FloorSource {
  kind: 'evidence' | 'peer' | 'reset'
  /** The peer whose bundle set it (kind "peer"). */
  peer?: string
  /** When, on this node's clock. */
  at: number
}

/** Where the floor is kept between runs: the settings table, or memory in tests. */
export interface FloorStore {
  get(key: string): number | undefined
  set(key: string, value: number): void
  getText(key: string): string | undefined
  setText(key: string, value: string): void
  /** Runs `write` as one commit, where the store has commits (one fsync instead of one per key). */
  atomically?(write: () => void): void
}

/** What the admin is shown: the times, and what set the floor. */
export interface ClockReport {
  now: number
  wall: number
  floor: number
  vouched: number
  /** How far the wall clock is behind the floor (0: it is not). */
  behindMs: number
  /** How far the floor is ahead of the vouched time (what peers' bundles added). */
  peerLeadMs: number
  leadLimitMs: number
  source: FloorSource | null
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

/** How often a running node looks whether another process (the CLI) reset the floor. */
const RESET_POLL_MS = 2000

export class FloorClock implements NodeClock {
  private floorBase: number
  private monoBase: number
  private vouchBase: number
  private vouchMonoBase: number
  private source: FloorSource | null
  private resetSeen: number
  private resetCheckedMono = -Infinity
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
    // The node's own evidence, without what peers said since. A node from
    // before this was kept starts from the floor it stored (which a peer may
    // have moved then: `outpost clock reset` is there for that).
    const vouched = this.store.get(VOUCHED_KEY) ?? stored
    this.vouchBase = Math.max(vouched ?? 0, vouched === undefined ? (opts.evidence?.dataDirMtime ?? 0) : 0, opts.evidence?.buildTime ?? 0)
    this.vouchMonoBase = this.monoBase
    this.source = parseSource(this.store.getText(FLOOR_SOURCE_KEY))
    this.resetSeen = this.store.get(RESET_KEY) ?? 0
  }

  /** The lower bound on the real time: the evidence plus the real seconds since it was read. */
  floor(): number {
    this.adoptReset()
    return Math.floor(this.floorBase + (this.mono() - this.monoBase))
  }

  /**
   * The time this node vouches for without any peer: the wall clock, or its
   * own stored evidence plus the monotonic seconds since, whichever is later.
   */
  vouched(): number {
    return Math.max(this.wall(), Math.floor(this.vouchBase + (this.mono() - this.vouchMonoBase)))
  }

  /** The floor, what set it, and how far ahead of the vouched time it is. */
  report(): ClockReport {
    const floor = this.floor()
    const vouched = this.vouched()
    return { now: this.now(), wall: this.wall(), floor, vouched, behindMs: this.behind(), peerLeadMs: Math.max(0, floor - vouched), leadLimitMs: PEER_LEAD_LIMIT_MS, source: this.source }
  }

  /**
   * Forgets what peers pushed: the floor becomes the vouched time. For an
   * admin whose node was pushed ahead (honest requests refused as "behind").
   * Stored at once, with a mark that tells a running node in another
   * process to do the same.
   */
  reset(): ClockReport {
    const t = this.vouched()
    this.floorBase = t
    this.monoBase = this.mono()
    this.source = { kind: 'reset', at: t }
    this.resetSeen = Math.max(this.resetSeen + 1, t)
    this.store.set(FLOOR_KEY, t)
    this.store.set(VOUCHED_KEY, t)
    this.store.setText(FLOOR_SOURCE_KEY, JSON.stringify(this.source))
    this.store.set(RESET_KEY, this.resetSeen)
    this.log(`clock: floor reset to ${new Date(t).toISOString()} (this node's own time; what peers' bundles had added is forgotten)`)
    return this.report()
  }

  /** A reset made by another process (the CLI) takes effect here within RESET_POLL_MS. */
  private adoptReset(force = false): void {
    const mono = this.mono()
    if (!force && mono - this.resetCheckedMono < RESET_POLL_MS) return
    this.resetCheckedMono = mono
    const at = this.store.get(RESET_KEY)
    if (at === undefined || at <= this.resetSeen) return
    this.resetSeen = at
    this.floorBase = this.store.get(FLOOR_KEY) ?? this.floorBase
    this.vouchBase = this.store.get(VOUCHED_KEY) ?? this.vouchBase
    this.monoBase = mono
    this.vouchMonoBase = mono
    this.source = parseSource(this.store.getText(FLOOR_SOURCE_KEY))
    this.log(`clock: the floor was reset by another process; now ${new Date(this.floorBase).toISOString()}`)
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
    // Measured from the vouched time, not from now(): now() includes the
    // floor, so a lead measured from it would let each bundle push the next
    // one's limit further (twenty bundles moved a node months ahead).
    const vouched = this.vouched()
    if (t > vouched + PEER_LEAD_LIMIT_MS) {
      this.log(`clock: ${peer}'s bundle is dated ${new Date(t).toISOString()}, more than ${PEER_LEAD_LIMIT_MS / 86_400_000} days ahead of this node's own time ${new Date(vouched).toISOString()}; not taken as the time. If this node's clock is the wrong one, set it (date -s, or NTP).`)
      return false
    }
    this.floorBase = t
    this.monoBase = this.mono()
    this.source = { kind: 'peer', peer, at: t }
    this.save()
    return true
  }

  /** Stores the floor, so the next start (after a reboot without network) begins from it. */
  save(): void {
    const write = () => {
      // Never write over a reset made by another process since we last looked.
      this.adoptReset(true)
      this.store.set(FLOOR_KEY, this.floor())
      this.store.set(VOUCHED_KEY, this.vouched())
      if (this.source) this.store.setText(FLOOR_SOURCE_KEY, JSON.stringify(this.source))
    }
    // Every command saves on its way out: one commit, not one fsync'd commit per key.
    if (this.store.atomically) this.store.atomically(write)
    else write()
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

function parseSource(text: string | undefined): FloorSource | null {
  if (!text) return null
  try {
    const v = JSON.parse(text) as FloorSource
    return v && typeof v.at === 'number' && ['evidence', 'peer', 'reset'].includes(v.kind) ? v : null
  } catch {
    return null
  }
}

/** The floor and what set it, in words for `outpost status` and the log. */
export function describeClock(r: ClockReport): string[] {
  const iso = (t: number) => new Date(t).toISOString()
  const how = !r.source
    ? "this node's own evidence (its stored time, data dir and software build)"
    : r.source.kind === 'peer'
      ? `a bundle from ${r.source.peer} dated ${iso(r.source.at)}`
      : r.source.kind === 'reset'
        ? `a reset at ${iso(r.source.at)}`
        : "this node's own evidence"
  const lines = [`clock: ${iso(r.now)} (wall clock ${iso(r.wall)}${r.behindMs ? `, ${Math.round(r.behindMs / 1000)} s behind the floor` : ''})`, `  floor ${iso(r.floor)}, set by ${how}`]
  if (r.peerLeadMs > 0) lines.push(`  the floor is ${Math.round(r.peerLeadMs / 1000)} s ahead of this node's own time (at most ${r.leadLimitMs / 86_400_000} days are taken from peers); if honest requests are refused as "behind", run \`outpost clock reset\``)
  return lines
}

/** The newest modification time of the database and the spool folder, 0 when there are none. */
export function dataDirMtime(paths: Pick<NodePaths, 'db' | 'spool'>): number {
  let newest = 0
  const see = (file: string) => {
    try {
      newest = Math.max(newest, statSync(file).mtimeMs)
    } catch {
      /* not there */
    }
  }
  // The spool folder itself, not each file in it: every message file is
  // renamed into place and never changed after, so the folder's mtime is at
  // least the newest file's, and opening a node costs the same with 100 000
  // messages waiting as with none (every CLI command opens one).
  for (const f of [paths.db, `${paths.db}-wal`, paths.spool]) see(f)
  return Math.floor(newest)
}
