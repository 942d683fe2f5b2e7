// `outpost init`: makes a data directory into a node.
import { chmodSync, existsSync, mkdirSync } from 'node:fs'
import type { NodeConfig } from '../config/schema.js'
import { defaults } from '../config/schema.js'
import { configFromObject, renderConfig, saveConfig } from '../config/file.js'
import { parse } from 'smol-toml'
import { nodePaths, type NodePaths } from '../base/paths.js'
import { openDb } from '../db/index.js'
import { makeSelfSignedCert } from '../tls/selfsigned.js'
import type { Exec } from '../base/exec.js'
import { splitAddress } from '../accounts/address.js'
import { isNodeName } from '../identity/name.js'
import { ensureIdentity } from '../identity/keys.js'
import { FloorClock } from '../base/clock.js'
import { settingsFloorStore } from '../db/settings.js'
import { buildTime } from '../context/context.js'
import { ensureDkimKey } from '../gateway/dkim.js'
import { SetupCodeFile } from '../admin/setup-code.js'
import { OutpostError } from '../base/errors.js'

export class InitError extends OutpostError {
  override name = 'InitError'
}

export interface InitOptions {
  data: string
  domain: string
  name?: string
  host?: string
  listen?: string
  ports?: Partial<NodeConfig['ports']>
  /** Make the node a gateway ([gateway] enabled) and give its domain a DKIM key. */
  gateway?: boolean
}

export async function initNode(opts: InitOptions, run: Exec): Promise<{ paths: NodePaths; config: NodeConfig; setupCode: string }> {
  const paths = nodePaths(opts.data)
  if (existsSync(paths.config)) throw new InitError(`${paths.data} is already an Outpost node (${paths.config} exists). Use another --data dir, or remove it to start afresh.`)
  // Validates the domain the same way account addresses are validated.
  splitAddress(`postmaster@${opts.domain}`)
  if (opts.name !== undefined && !isNodeName(opts.name)) {
    throw new InitError(`--name "${opts.name}": a node name is lower-case letters and digits, parts joined by . or - (it names folders on USB sticks and bundle files)`)
  }
  const base = defaults(opts.domain.toLowerCase())
  const config: NodeConfig = {
    ...base,
    node: { name: opts.name ?? base.node.name, domain: base.node.domain, host: opts.host ?? base.node.host },
    listen: { ...base.listen, address: opts.listen ?? base.listen.address },
    ports: { ...base.ports, ...Object.fromEntries(Object.entries(opts.ports ?? {}).filter(([, v]) => v !== undefined)) },
    gateway: { ...base.gateway, enabled: opts.gateway ?? base.gateway.enabled },
  }
  // Round-trip through the validator, so init can never write a file start refuses.
  configFromObject(parse(renderConfig(config)) as Record<string, unknown>, {})
  const ports = Object.entries(config.ports)
  const seen = new Map<number, string>()
  for (const [k, v] of ports) {
    if (seen.has(v)) throw new InitError(`--${k}-port and --${seen.get(v)}-port are both ${v}; each service needs its own port`)
    seen.set(v, k)
  }

  mkdirSync(paths.data, { recursive: true, mode: 0o750 })
  for (const d of [paths.mail, paths.run, paths.log]) mkdirSync(d, { recursive: true, mode: 0o750 })
  // A new node has seen nothing yet; the installed software's build time is
  // the one floor it has (a Pi's first boot may say 1970).
  const db = openDb(paths.db)
  const clock = new FloorClock({ store: settingsFloorStore(db), evidence: { buildTime: buildTime() } })
  const now = clock.now()
  clock.save()
  db.$client.close()
  await makeSelfSignedCert(run, { dir: paths.tlsDir, keyPath: paths.tlsKey, certPath: paths.tlsCert, domain: config.node.domain, host: config.node.host, now })
  // The database holds password hashes: readable by the node's user only.
  chmodSync(paths.db, 0o600)
  // The node's signing and encryption keys, which its card carries to peers.
  await ensureIdentity(paths)
  // A gateway signs what it sends for its domain; the key is made now so the DNS record can be published before the first start.
  if (config.gateway.enabled) ensureDkimKey(paths.keysDir, config.node.domain)
  // Whoever has this claims the web admin: the first-run page asks for it, so
  // a stranger on the network cannot set the admin password first.
  const { code: setupCode } = new SetupCodeFile(paths.setupCode).ensure()
  // The config file is written last: its presence is what marks a finished init.
  saveConfig(paths.config, config)
  return { paths, config, setupCode }
}
