// The node database as our plugins use it: opened on first use, never
// migrated (the supervisor migrates before Haraka starts), and shared by
// the hooks of one plugin. A different path in outpost.ini opens anew.
import { openDb, type Db } from '../../db/index.js'
import { PeerService } from '../../peers/service.js'

let current: { path: string; db: Db } | null = null

export function nodeDb(path: string): Db {
  if (current?.path === path) return current.db
  const db = openDb(path, { migrate: false })
  const old = current
  current = { path, db }
  old?.db.$client.close()
  return db
}

/**
 * Peers as the plugins need them: for routing only. No card is ever added
 * from Haraka, so the node's own signing key (which guards against adding
 * itself as a peer) is not needed here.
 */
export function routingPeers(db: Db, domains: readonly string[]): PeerService {
  return new PeerService(db, { domains, signPublicB64: '' })
}
