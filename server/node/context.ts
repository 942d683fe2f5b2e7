// Opening an initialised node's data dir: config, paths, database, services.
// The CLI and `start` both go through here, so they never disagree.
import { nodePaths, type NodePaths } from '../paths.js'
import { loadConfig } from '../config/file.js'
import type { NodeConfig } from '../config/schema.js'
import { openDb, type Db } from '../db/index.js'
import { AccountService } from '../accounts/service.js'
import { existsSync } from 'node:fs'
import { ConfigError } from '../config/file.js'

export interface NodeContext {
  paths: NodePaths
  config: NodeConfig
  warnings: string[]
  db: Db
  accounts: AccountService
  close(): void
}

export function openNode(data: string): NodeContext {
  const paths = nodePaths(data)
  if (!existsSync(paths.config)) throw new ConfigError(`${paths.data} is not an initialised Outpost node (no ${paths.config}). Run \`outpost init --data ${paths.data} --domain DOMAIN\` first.`)
  const { config, warnings } = loadConfig(paths.config)
  const db = openDb(paths.db)
  return {
    paths,
    config,
    warnings,
    db,
    accounts: new AccountService(db, [config.node.domain]),
    close: () => db.$client.close(),
  }
}
