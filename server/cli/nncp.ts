// `outpost transport nncp-snippet [NEIGHBOUR] [--set handler=NAME] [--set via=RELAY,...]`:
// prints the exec handler a user pastes into the neighbour section of their
// NNCP config, so that packets from that neighbour reach this node's
// `outpost import -`. With `--set area=AREA [--set subs=NODE,...]` it prints
// the areas block of an NNCP multicast area instead, whose handler is
// `outpost import - --area AREA`. It writes nothing: NNCP's config stays the
// user's, and so do the area's keys (nncp-cfgnew -area makes them).
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { resolveDataDir, nodePaths } from '../base/paths.js'
import { renderNncpAreaSnippet, renderNncpExecSnippet } from '../transports/nncp-config.js'
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

const KEYS = ['handler', 'via', 'area', 'subs']

function nameList(v: string | undefined): string[] | undefined {
  return v ? v.split(',').map((n) => n.trim()).filter(Boolean) : undefined
}

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
  const area = settings.area
  if (area !== undefined) {
    if (args.length) throw new TransportConfigError(`nncp-snippet: an area's block names no NEIGHBOUR (its subscribers go in --set subs=NODE,...), not ${args[0]}`)
    if (settings.via !== undefined) throw new TransportConfigError('nncp-snippet: via is for a neighbour\'s section; an area reaches its members through subs')
  } else if (settings.subs !== undefined) {
    throw new TransportConfigError('nncp-snippet: subs belongs to an area; give --set area=AREA too')
  }
  let text: string
  try {
    const common = { nodeBinary: process.execPath, outpostBin: installedOutpostBin(), dataDir: paths.data, handler: settings.handler }
    text = area !== undefined
      ? renderNncpAreaSnippet({ ...common, area, subs: nameList(settings.subs) })
      : renderNncpExecSnippet({ ...common, neighbour: args[0], via: nameList(settings.via) })
  } catch (err) {
    throw new TransportConfigError((err as Error).message)
  }
  process.stdout.write(text)
  console.error('NNCP runs the handler as its own user (nncp on Debian): that user must be able to read and write the Outpost data directory.')
  return 0
}
