// The airtime budget the sender keeps. In Europe's 868 MHz band a device
// may transmit at most 1% of the time on the usual sub-band (ETSI EN 300
// 220, ERC Recommendation 70-03), measured over an hour; other regions
// have other rules. The budget is a sliding window of one hour: a frame
// goes out only if the airtime of the frames in the last hour plus its own
// stays within duty × 1 hour. The log of recent frames is kept on disk
// (tmp → fsync → rename), so a restart or a new run does not hand out a
// fresh hour.
//
// The limit binds each transmitter, so each radio keeps its own budget,
// in a file named after its transport (the id `outpost radio` and
// /api/radios show): two radios on one node each get the whole share.
// Versions before this kept one file for every radio of the node; a radio
// that has no file of its own yet starts from that shared log, so the
// airtime spent in the hour before the upgrade counts against every radio
// once (too little airtime for that hour, never too much).
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurable } from '../../base/durable.js'

export interface RegionPlan {
  /** The default frequency in Hz: a channel inside the band that allows this duty cycle. */
  frequency: number
  /** The share of airtime allowed, 0 to 1. */
  duty: number
  /** Why, for the docs and `transport help`. */
  note: string
}

/**
 * The regional plans Outpost knows. Where a region limits airtime by
 * listen-before-talk or dwell time instead of a duty cycle, the budget here
 * is a courtesy cap of 10%: a chat link needs far less, and a shared band
 * stays usable for others.
 */
export const REGIONS: Readonly<Record<string, RegionPlan>> = {
  EU868: { frequency: 869_525_000, duty: 0.01, note: '863–870 MHz, 1% on the common sub-bands (ETSI EN 300 220); 869.4–869.65 MHz allows 10% and 500 mW, but 1% is kept as the safe default' },
  EU433: { frequency: 433_775_000, duty: 0.1, note: '433.05–434.79 MHz, 10% duty cycle, 10 mW' },
  US915: { frequency: 914_875_000, duty: 0.1, note: '902–928 MHz, no duty cycle but a 400 ms dwell limit per channel when not hopping; 10% courtesy cap' },
  AU915: { frequency: 916_800_000, duty: 0.1, note: '915–928 MHz, no duty cycle; 10% courtesy cap' },
  AS923: { frequency: 923_200_000, duty: 0.01, note: '920–925 MHz, 1% or listen-before-talk depending on the country' },
  IN865: { frequency: 866_550_000, duty: 0.1, note: '865–867 MHz, no duty cycle; 10% courtesy cap' },
  KR920: { frequency: 922_100_000, duty: 0.1, note: '920–923 MHz, listen-before-talk; 10% courtesy cap' },
}

export const WINDOW_MS = 60 * 60 * 1000

interface Entry {
  at: number
  ms: number
}

/** The one log every radio of a node shared before each radio had its own: read once by each radio, never written. */
export function sharedAirtimeFile(spool: string): string {
  return join(spool, 'lora', 'airtime.json')
}

/** Where the radio of LoRa transport `transportId` keeps the airtime it spent. */
export function airtimeFile(spool: string, transportId: number): string {
  return join(spool, 'lora', `airtime-${transportId}.json`)
}

/** Reads a log of frames; undefined when there is none, null when it cannot be read. */
function readEntries(file: string): Entry[] | undefined | null {
  if (!existsSync(file)) return undefined
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown
    if (!Array.isArray(parsed)) return null
    return parsed.filter((e): e is Entry => typeof e?.at === 'number' && typeof e?.ms === 'number')
  } catch {
    return null
  }
}

/**
 * The budget of one radio, kept in its own file. A radio without a file of
 * its own yet is charged what the node's shared log (from before each radio
 * had its own) holds of the last hour, and that charge is written to its
 * file at once, so a restart keeps it. The shared log is removed once
 * nothing in it counts any more: then no radio can be charged by it.
 * `readOnly` (the radio's state for `outpost radio`) writes nothing.
 */
export function radioBudget(spool: string, transportId: number, duty: number, opts: { now?: () => number; readOnly?: boolean } = {}): AirtimeBudget {
  const now = opts.now ?? Date.now
  const file = airtimeFile(spool, transportId)
  const budget = new AirtimeBudget(opts.readOnly ? undefined : file, duty, now)
  if (existsSync(file)) {
    if (opts.readOnly) budget.restore(file)
    return budget
  }
  const shared = sharedAirtimeFile(spool)
  const old = readEntries(shared)
  if (old === undefined) return budget
  const from = now() - WINDOW_MS
  // A shared log that cannot be read counts as a full hour, as a radio's own does.
  const live = old === null ? [{ at: now(), ms: budget.limitMs() }] : old.filter((e) => e.at > from)
  budget.seed(live)
  if (!opts.readOnly && old !== null && live.length === 0) rmSync(shared, { force: true })
  return budget
}

export class AirtimeBudget {
  private entries: Entry[] = []

  /**
   * @param file where the last hour's frames are kept; undefined keeps them in memory (tests)
   * @param duty the share of airtime allowed, 0 to 1
   */
  constructor(private readonly file: string | undefined, readonly duty: number, private readonly now: () => number = Date.now) {
    if (file) this.restore(file)
  }

  /** Reads the frames kept in `file` (its own, or another's to show it without writing). */
  restore(file: string): void {
    const read = readEntries(file)
    // A log that cannot be read is treated as a full hour: transmitting
    // too little for an hour is the lawful mistake.
    if (read === null) this.entries = [{ at: this.now(), ms: this.limitMs() }]
    else if (read) this.entries = read
  }

  /** Charges frames that went out before (oldest first), and keeps them as if this budget had sent them. */
  seed(entries: readonly { at: number; ms: number }[]): void {
    this.entries = [...entries.map((e) => ({ at: e.at, ms: e.ms })), ...this.entries].sort((a, b) => a.at - b.at)
    this.prune()
    if (this.file) writeFileDurable(this.file, JSON.stringify(this.entries), 0o600)
  }

  /** Airtime allowed per window, in ms. */
  limitMs(): number {
    return this.duty * WINDOW_MS
  }

  /** Airtime used in the window ending now, in ms. */
  usedMs(): number {
    this.prune()
    return this.entries.reduce((s, e) => s + e.ms, 0)
  }

  /** How long until a frame of `ms` fits the budget: 0 when it fits now; Infinity when it never can. */
  waitMs(ms: number): number {
    if (ms > this.limitMs()) return Infinity
    this.prune()
    let used = this.usedMs()
    if (used + ms <= this.limitMs()) return 0
    // Oldest first: the frames that leave the window soonest free their airtime.
    for (const e of this.entries) {
      used -= e.ms
      if (used + ms <= this.limitMs()) return e.at + WINDOW_MS - this.now()
    }
    return 0
  }

  /** Records a frame that went out. */
  charge(ms: number): void {
    this.prune()
    this.entries.push({ at: this.now(), ms })
    if (this.file) writeFileDurable(this.file, JSON.stringify(this.entries), 0o600)
  }

  private prune(): void {
    const from = this.now() - WINDOW_MS
    while (this.entries.length && this.entries[0]!.at <= from) this.entries.shift()
  }
}
