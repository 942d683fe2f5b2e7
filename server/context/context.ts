// Opening an initialised node's data dir: config, paths, database, services.
// The CLI and `start` both go through here, so they never disagree.
import { nodePaths, type NodePaths } from '../base/paths.js'
import { loadConfig } from '../config/file.js'
import type { NodeConfig } from '../config/schema.js'
import { openDb, type Db } from '../db/index.js'
import { AccountService } from '../accounts/service.js'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { appRoot } from '../base/app-root.js'
import { dataDirMtime, FloorClock } from '../base/clock.js'
import { settingsFloorStore } from '../db/settings.js'
import { ConfigError } from '../config/file.js'

export interface NodeContext {
  paths: NodePaths
  config: NodeConfig
  warnings: string[]
  db: Db
  accounts: AccountService
  /** The node's time: never below the floor of what it has seen (see clock.ts). */
  clock: FloorClock
  close(): void
}

export function openNode(data: string): NodeContext {
  const paths = nodePaths(data)
  if (!existsSync(paths.config)) throw new ConfigError(`${paths.data} is not an initialised Outpost node (no ${paths.config}). Run \`outpost init --data ${paths.data} --domain DOMAIN\` first.`)
  const { config, warnings } = loadConfig(paths.config)
  const db = openDb(paths.db)
  const clock = new FloorClock({
    store: settingsFloorStore(db),
    evidence: { dataDirMtime: dataDirMtime(paths), buildTime: buildTime() },
    log: (line) => console.error(`outpost: ${line}`),
  })
  return {
    paths,
    config,
    warnings,
    db,
    accounts: new AccountService(db, [config.node.domain]),
    clock,
    close: () => {
      // The floor a process has seen outlives it: the next start, maybe
      // after a reboot with no network, begins from here.
      try {
        clock.save()
      } catch {
        /* a read-only or busy database keeps the floor it had */
      }
      db.$client.close()
    },
  }
}

/** The installed software was built before it runs: its package.json's time is a floor for any clock. */
export function buildTime(): number {
  try {
    return Math.floor(statSync(join(appRoot(), 'package.json')).mtimeMs)
  } catch {
    return 0
  }
}
