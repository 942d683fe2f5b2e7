// The `settings` table: run-time settings changed from the web admin or the
// CLI, one JSON value per `<area>.<name>` key.
import { eq, sql } from 'drizzle-orm'
import type { Db } from './index.js'
import { settings } from './schema.js'
import type { FloorStore } from '../base/clock.js'
import { preparedPerDb } from './prepared.js'

/** Prepared once: Haraka's policy and delivery hooks read the uplink settings for every message (routing/internet.ts). */
const readSetting = preparedPerDb((db) => db.select({ value: settings.value }).from(settings).where(eq(settings.key, sql.placeholder('key'))).prepare())

export function getSetting<T>(db: Db, key: string): T | undefined {
  const row = readSetting(db).get({ key })
  return row ? (JSON.parse(row.value) as T) : undefined
}

export function setSetting(db: Db, key: string, value: unknown, now = Date.now()): void {
  const json = JSON.stringify(value)
  db.insert(settings).values({ key, value: json, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value: json, updatedAt: now } }).run()
}

/** Sets the key only when it has no value yet; true when this call set it. */
export function setSettingOnce(db: Db, key: string, value: unknown, now = Date.now()): boolean {
  return db.insert(settings).values({ key, value: JSON.stringify(value), updatedAt: now }).onConflictDoNothing().run().changes === 1
}

/** The clock's floor and expiry times, kept in this table (see base/clock.ts). */
export function settingsFloorStore(db: Db): FloorStore {
  return {
    get(key) {
      const v = getSetting<unknown>(db, key)
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined
    },
    set: (key, value) => setSetting(db, key, value),
    getText(key) {
      const v = getSetting<unknown>(db, key)
      return typeof v === 'string' ? v : undefined
    },
    setText: (key, value) => setSetting(db, key, value),
    // IMMEDIATE: it reads (a reset by another process) before it writes, and a
    // deferred transaction could not take the write lock after another wrote.
    atomically: (write) => db.$client.transaction(write).immediate(),
  }
}
