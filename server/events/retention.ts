// How long the activity log keeps events: 30 days, or the settings key
// `events.retentionDays`. The node prunes once at start and then daily.
import type { Db } from '../db/index.js'
import { getSetting } from '../db/settings.js'
import type { EventLog } from './log.js'

export const RETENTION_KEY = 'events.retentionDays'
export const DEFAULT_RETENTION_DAYS = 30
const DAY_MS = 24 * 60 * 60 * 1000

export function retentionDays(db: Db): number {
  const v = getSetting<unknown>(db, RETENTION_KEY)
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : DEFAULT_RETENTION_DAYS
}

/** Deletes the events older than the retention; returns how many went and the days kept. */
export function pruneActivity(db: Db, events: EventLog, now = Date.now()): { removed: number; days: number } {
  const days = retentionDays(db)
  return { removed: events.prune(now - days * DAY_MS), days }
}
