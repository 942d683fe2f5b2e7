// Messages in and out per day for the dashboard's chart, counted from the
// events table: what people see is what the node reported as it happened.
import { and, gte, inArray, sql } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { events } from '../db/schema.js'

export interface TrafficDay {
  /** UTC day, YYYY-MM-DD. */
  day: string
  /** Messages delivered here that came in bundles. */
  received: number
  /** Messages exported to peers (in bundles) or sent to the Internet. */
  sent: number
  /** Messages delivered here straight from SMTP. */
  local: number
}

const DAY_MS = 24 * 60 * 60 * 1000

/** One entry per UTC day for the last `days` days (today included), oldest first, zeros included. */
export function dailyTraffic(db: Db, days: number, now = Date.now()): TrafficDay[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS
  const from = today - (days - 1) * DAY_MS
  const out = new Map<string, TrafficDay>()
  for (let t = from; t <= today; t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10)
    out.set(day, { day, received: 0, sent: 0, local: 0 })
  }
  // One grouped query: a busy box has thousands of rows in two weeks.
  const rows = db
    .select({
      day: sql<string>`strftime('%Y-%m-%d', ${events.at} / 1000, 'unixepoch')`,
      kind: events.kind,
      smtp: sql<number>`json_extract(${events.data}, '$.via') = 'smtp'`,
      n: sql<number>`count(*)`,
      messages: sql<number>`coalesce(sum(json_extract(${events.data}, '$.messages')), 0)`,
    })
    .from(events)
    .where(and(inArray(events.kind, ['message.delivered', 'bundle.exported', 'message.sent']), gte(events.at, from)))
    .groupBy(sql`1`, events.kind, sql`3`)
    .all()
  for (const r of rows) {
    const d = out.get(r.day)
    if (!d) continue
    if (r.kind === 'message.delivered') {
      if (r.smtp) d.local += r.n
      else d.received += r.n
    } else if (r.kind === 'bundle.exported') d.sent += r.messages
    else d.sent += r.n
  }
  return [...out.values()]
}
