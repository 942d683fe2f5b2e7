// The node database as our plugins use it: opened on first use, never
// migrated (the supervisor migrates before Haraka starts), and shared by
// the hooks of one plugin. A different path in outpost.ini opens anew.
import { openDb, type Db } from '../../db/index.js'

let current: { path: string; db: Db } | null = null

export function nodeDb(path: string): Db {
  if (current?.path === path) return current.db
  const db = openDb(path, { migrate: false })
  const old = current
  current = { path, db }
  old?.db.$client.close()
  return db
}
