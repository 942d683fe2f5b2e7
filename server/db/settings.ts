// The `settings` table: run-time settings changed from the web admin or the
// CLI, one JSON value per `<area>.<name>` key.
import { eq } from 'drizzle-orm'
import type { Db } from './index.js'
import { settings } from './schema.js'

export function getSetting<T>(db: Db, key: string): T | undefined {
  const row = db.select({ value: settings.value }).from(settings).where(eq(settings.key, key)).get()
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
