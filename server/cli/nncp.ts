// `outpost transport nncp-snippet [NEIGHBOUR] [--set handler=NAME] [--set via=RELAY,...]`:
// prints the exec handler a user pastes into the neighbour section of their
// NNCP config, so that packets from that neighbour reach this node's
// `outpost import -`. It writes nothing: NNCP's config stays the user's.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { resolveDataDir, nodePaths } from '../base/paths.js'
import { renderNncpExecSnippet } from '../transports/nncp-config.js'
import { TransportConfigError } from '../transports/transport.js'

/**
 * bin/outpost.mjs of the installation this code runs from. Found from this
 * module rather than from PATH, so a checkout's snippet names the checkout
 * and the .deb's names the packaged file, whichever `outpost` ran it.
 */
export function installedOutpostBin(from = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from)
  // server/cli under tsx, dist/server/cli when built: at most a few levels up.
  for (let i = 0; i < 5; i++) {
    const bin = join(dir, 'bin', 'outpost.mjs')
    if (existsSync(bin)) return bin
    dir = dirname(dir)
  }
  throw new Error(`cannot find bin/outpost.mjs above ${from}; is this Outpost installation complete?`)
}

const KEYS = ['handler', 'via']

export async function cmdNncpSnippet(args: string[], values: { data?: unknown; set?: unknown }): Promise<number> {
  if (args.length > 1) throw new TransportConfigError(`transport nncp-snippet takes at most one NEIGHBOUR (the other node's NNCP name), not ${args.join(' ')}`)
  const settings: Record<string, string> = {}
  for (const kv of (values.set as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=')
    if (eq <= 0) throw new TransportConfigError(`--set takes KEY=VALUE, not "${kv}"`)
    const key = kv.slice(0, eq)
    if (!KEYS.includes(key)) throw new TransportConfigError(`nncp-snippet: unknown setting "${key}" (known: ${KEYS.join(', ')})`)
    settings[key] = kv.slice(eq + 1)
  }
  const paths = nodePaths(resolveDataDir(values.data as string | undefined))
  if (!existsSync(paths.config)) console.error(`warning: ${paths.data} holds no Outpost node yet (outpost init); the handler will fail until it does`)
  let text: string
  try {
    text = renderNncpExecSnippet({
      nodeBinary: process.execPath,
      outpostBin: installedOutpostBin(),
      dataDir: paths.data,
      handler: settings.handler,
      neighbour: args[0],
      via: settings.via ? settings.via.split(',').map((v) => v.trim()).filter(Boolean) : undefined,
    })
  } catch (err) {
    throw new TransportConfigError((err as Error).message)
  }
  process.stdout.write(text)
  console.error('NNCP runs the handler as its own user (nncp on Debian): that user must be able to read and write the Outpost data directory.')
  return 0
}
