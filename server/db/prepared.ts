// Statements prepared once per database connection. Haraka's hooks, the
// ledger and import run the same few queries for every message, and
// building and preparing a drizzle query anew each time cost more than
// running it. Keyed weakly by the connection, so a closed and dropped one
// takes its statements with it.
import type { Db } from './index.js'

/** Returns `prepare`'s result for a connection, made on the first call for that connection. */
export function preparedPerDb<T>(prepare: (db: Db) => T): (db: Db) => T {
  const made = new WeakMap<Db, T>()
  return (db) => {
    let v = made.get(db)
    if (v === undefined) made.set(db, (v = prepare(db)))
    return v
  }
}
