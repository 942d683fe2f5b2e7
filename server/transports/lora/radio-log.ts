// What a LoRa radio did, kept in the database an hour per row
// (radio_hours), so `outpost radio` and the web admin show airtime and
// frames across restarts of the node. The link counts in memory
// (RadioLink.stats); a RadioCounter hands the growth since its last flush
// to the hour it is flushed in. Rows older than a week are pruned.
import { and, eq, gte, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/index.js'
import { radioHours } from '../../db/schema.js'
import type { LinkStats } from './link.js'

export const HOUR_MS = 60 * 60 * 1000
/** How long hour rows are kept. */
export const KEEP_HOURS = 7 * 24

/** The counters kept per hour. */
export interface RadioFigures {
  airtimeMs: number
  framesSent: number
  framesResent: number
  framesReceived: number
  framesBad: number
  acksMissed: number
}

const FIELDS = ['airtimeMs', 'framesSent', 'framesResent', 'framesReceived', 'framesBad', 'acksMissed'] as const

export function noFigures(): RadioFigures {
  return { airtimeMs: 0, framesSent: 0, framesResent: 0, framesReceived: 0, framesBad: 0, acksMissed: 0 }
}

export function hourOf(at: number): number {
  return Math.floor(at / HOUR_MS) * HOUR_MS
}

export class RadioLog {
  constructor(private readonly db: Db) {}

  /** Adds `delta` to the hour holding `at`. */
  add(transportId: number, delta: RadioFigures, at = Date.now()): void {
    if (FIELDS.every((f) => delta[f] === 0)) return
    const row = { transportId, hour: hourOf(at), ...roundAirtime(delta) }
    this.db
      .insert(radioHours)
      .values(row)
      .onConflictDoUpdate({
        target: [radioHours.transportId, radioHours.hour],
        set: {
          airtimeMs: sql`${radioHours.airtimeMs} + ${row.airtimeMs}`,
          framesSent: sql`${radioHours.framesSent} + ${row.framesSent}`,
          framesResent: sql`${radioHours.framesResent} + ${row.framesResent}`,
          framesReceived: sql`${radioHours.framesReceived} + ${row.framesReceived}`,
          framesBad: sql`${radioHours.framesBad} + ${row.framesBad}`,
          acksMissed: sql`${radioHours.acksMissed} + ${row.acksMissed}`,
        },
      })
      .run()
  }

  /** Removes hours older than KEEP_HOURS; returns how many rows went. */
  prune(now = Date.now()): number {
    return this.db.delete(radioHours).where(lt(radioHours.hour, hourOf(now) - (KEEP_HOURS - 1) * HOUR_MS)).run().changes
  }

  /**
   * The last `hours` hours, oldest first, one entry per hour (zeros where
   * the radio was quiet), ending with the hour holding `now`.
   */
  hours(transportId: number, hours = 24, now = Date.now()): (RadioFigures & { hour: number })[] {
    const last = hourOf(now)
    const first = last - (hours - 1) * HOUR_MS
    const rows = this.db
      .select()
      .from(radioHours)
      .where(and(eq(radioHours.transportId, transportId), gte(radioHours.hour, first)))
      .all()
    const byHour = new Map(rows.map((r) => [r.hour, r]))
    return Array.from({ length: hours }, (_, i) => {
      const hour = first + i * HOUR_MS
      const r = byHour.get(hour)
      return { hour, ...(r ? pick(r) : noFigures()) }
    })
  }

  /** The sum of `hours` hours ending with the current one. */
  total(transportId: number, hours = 24, now = Date.now()): RadioFigures {
    const sum = noFigures()
    for (const h of this.hours(transportId, hours, now)) for (const f of FIELDS) sum[f] += h[f]
    return sum
  }
}

function pick(r: RadioFigures): RadioFigures {
  return { airtimeMs: r.airtimeMs, framesSent: r.framesSent, framesResent: r.framesResent, framesReceived: r.framesReceived, framesBad: r.framesBad, acksMissed: r.acksMissed }
}

function roundAirtime(d: RadioFigures): RadioFigures {
  return { ...d, airtimeMs: Math.round(d.airtimeMs) }
}

/**
 * Follows one link's counters and writes what they grew by since the last
 * flush into the radio log. Airtime is carried over in fractions of a ms,
 * so many short frames are not rounded away.
 */
export class RadioCounter {
  private seen: RadioFigures = noFigures()

  constructor(
    private readonly log: RadioLog,
    private readonly transportId: number,
    private readonly stats: LinkStats,
  ) {
    this.seen = figuresOf(stats)
  }

  flush(at = Date.now()): void {
    const now = figuresOf(this.stats)
    const delta = noFigures()
    for (const f of FIELDS) delta[f] = now[f] - this.seen[f]
    delta.airtimeMs = Math.floor(delta.airtimeMs)
    this.log.add(this.transportId, delta, at)
    this.seen = { ...now, airtimeMs: this.seen.airtimeMs + delta.airtimeMs }
  }
}

function figuresOf(s: LinkStats): RadioFigures {
  return { airtimeMs: s.airtimeMs, framesSent: s.framesSent, framesResent: s.framesResent, framesReceived: s.framesReceived, framesBad: s.framesBad, acksMissed: s.acksMissed }
}
