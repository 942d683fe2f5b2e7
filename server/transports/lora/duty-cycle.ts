// The airtime budget the sender keeps. In Europe's 868 MHz band a device
// may transmit at most 1% of the time on the usual sub-band (ETSI EN 300
// 220, ERC Recommendation 70-03), measured over an hour; other regions
// have other rules. The budget is a sliding window of one hour: a frame
// goes out only if the airtime of the frames in the last hour plus its own
// stays within duty × 1 hour. The log of recent frames is kept on disk
// (tmp → fsync → rename), so a restart or a new run does not hand out a
// fresh hour.
import { existsSync, readFileSync } from 'node:fs'
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

/** Where a node keeps the airtime its radios spent (one budget for all of them). */
export function airtimeFile(spool: string): string {
  return join(spool, 'lora', 'airtime.json')
}

export class AirtimeBudget {
  private entries: Entry[] = []

  /**
   * @param file where the last hour's frames are kept; undefined keeps them in memory (tests)
   * @param duty the share of airtime allowed, 0 to 1
   */
  constructor(private readonly file: string | undefined, readonly duty: number, private readonly now: () => number = Date.now) {
    if (file && existsSync(file)) {
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown
        if (Array.isArray(parsed)) this.entries = parsed.filter((e): e is Entry => typeof e?.at === 'number' && typeof e?.ms === 'number')
      } catch {
        // A log that cannot be read is treated as a full hour: transmitting
        // too little for an hour is the lawful mistake.
        this.entries = [{ at: this.now(), ms: this.limitMs() }]
      }
    }
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
