// The Syncthing transport: a folder that Syncthing keeps in step between this
// node and the peer. The layout in it is the stick layout (outbox per peer
// under FOLDER/outpost/<peer>/, docs/bundle-format.md), written the folder
// transport's way (tmp → fsync → rename), so Syncthing never sends half a
// bundle. After writing, the run asks Syncthing to rescan through its REST
// API: its file watcher would wait about 10 s before it even looks.
import { existsSync, statSync } from 'node:fs'
import { STICK_FOLDER } from '../bundle/stick-layout.js'
import { stickSink } from '../exchange/export.js'
import { TransportConfigError, checkConfigKeys, sendOptions, type TransportDriver } from './transport.js'
import { OutpostError } from '../base/errors.js'

// The keys are the settings' own names: the parsed config is what is stored
// and parsed again before every run.
export interface SyncthingConfig {
  folder: string
  folder_id: string
  api: string
  api_key: string
}

/** Syncthing answers on loopback at once or not at all; a scan of the outpost/ subfolder is quick. */
const API_TIMEOUT_MS = 30_000

export class SyncthingApiError extends OutpostError {
  override name = 'SyncthingApiError'
}

async function callApi(config: Pick<SyncthingConfig, 'api' | 'api_key'>, method: 'GET' | 'POST', path: string, query: Record<string, string>): Promise<Response> {
  const url = new URL(path, config.api)
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
  let res: Response
  try {
    res = await fetch(url, { method, headers: { 'X-API-Key': config.api_key }, signal: AbortSignal.timeout(API_TIMEOUT_MS) })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
    throw new SyncthingApiError(`Syncthing's API at ${config.api} did not answer (${cause}); is Syncthing running, and is "api" its GUI address?`)
  }
  if (res.status === 403 || res.status === 401) throw new SyncthingApiError(`Syncthing at ${config.api} refused the API key (HTTP ${res.status}); copy <gui><apikey> from its config.xml into the "api_key" setting`)
  if (!res.ok) throw new SyncthingApiError(`Syncthing at ${config.api}: ${method} ${url.pathname} failed (HTTP ${res.status}): ${(await res.text()).trim()}`)
  return res
}

/** Asks Syncthing to look at the outpost/ part of the folder now; it returns once the scan is done. */
export async function requestRescan(config: SyncthingConfig): Promise<void> {
  await callApi(config, 'POST', '/rest/db/scan', { folder: config.folder_id, sub: STICK_FOLDER })
}

/** What Syncthing says about the shared folder, for the status display. */
export interface SyncthingFolderState {
  /** idle, scanning, syncing, error, ... */
  state: string
  /** Files (and bytes) this side still has to fetch from the peer. */
  needFiles: number
  needBytes: number
  /** Files in the folder as all devices agree on it, and as they are here. */
  globalFiles: number
  localFiles: number
  errors: number
  /** When Syncthing last changed the state, ISO 8601. */
  stateChanged: string
}

export async function syncthingFolderState(config: Pick<SyncthingConfig, 'api' | 'api_key' | 'folder_id'>): Promise<SyncthingFolderState> {
  const res = await callApi(config, 'GET', '/rest/db/status', { folder: config.folder_id })
  const s = (await res.json()) as Record<string, unknown>
  const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : 0)
  return {
    state: typeof s.state === 'string' ? s.state : 'unknown',
    needFiles: num('needFiles'),
    needBytes: num('needBytes'),
    globalFiles: num('globalFiles'),
    localFiles: num('localFiles'),
    errors: num('errors') + num('pullErrors'),
    stateChanged: typeof s.stateChanged === 'string' ? s.stateChanged : '',
  }
}

export const syncthingTransport: TransportDriver<SyncthingConfig> = {
  kind: 'syncthing',
  doc: "Bundles travel through a Syncthing shared folder (stick layout: FOLDER/outpost/<peer>/). Outpost writes them and asks Syncthing's REST API to rescan at once. Needs the `syncthing` package. See docs/transports/syncthing.md.",
  // Syncthing moves files as soon as they are scanned, so a run every minute
  // keeps mail moving without re-sending unacknowledged mail too often.
  defaultSchedule: '* * * * *',
  configKeys: {
    folder: { doc: 'the shared folder on this machine (its path in Syncthing)', required: true },
    folder_id: { doc: "the folder's ID in Syncthing (the same on both devices)", required: true },
    api: { doc: "Syncthing's GUI/REST address on this machine", default: 'http://127.0.0.1:8384' },
    api_key: { doc: 'the API key: <gui><apikey> in Syncthing\'s config.xml, or Actions → Settings → API Key', required: true, secret: true },
  },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    if (!c.folder!.startsWith('/')) throw new TransportConfigError(`syncthing: folder must be an absolute path, not "${c.folder}"`)
    let api: URL
    try {
      api = new URL(c.api!)
    } catch {
      throw new TransportConfigError(`syncthing: api must be a URL like http://127.0.0.1:8384, not "${c.api}"`)
    }
    if (api.protocol !== 'http:' && api.protocol !== 'https:') throw new TransportConfigError(`syncthing: api must be an http:// or https:// URL, not "${c.api}"`)
    return { folder: c.folder!, folder_id: c.folder_id!, api: api.origin, api_key: c.api_key! }
  },
  async run(ctx, config) {
    if (!existsSync(config.folder) || !statSync(config.folder).isDirectory()) {
      throw new Error(`the Syncthing folder ${config.folder} is not there; share it in Syncthing first (folder ID "${config.folder_id}")`)
    }
    // Import first, so the acks for what came in leave in this same run.
    const got = await ctx.exchange.importFrom(config.folder, ctx.progress, { via: 'syncthing' })
    const imported = got.filter((r) => r.outcome.kind === 'imported')
    // stickSink's tmp name starts with a dot and ends in .tmp: the importer
    // on the other side never takes it for a bundle, even if Syncthing
    // carries it over before the rename.
    const sent = await ctx.exchange.exportPeer(ctx.peer, stickSink(config.folder, ctx.peer), sendOptions(ctx, 'syncthing'))
    // A rescan also tells Syncthing at once that imported bundles are gone,
    // so the peer's copy of them goes too.
    if (sent.bundles || got.length) await requestRescan(config)
    return {
      sentBundles: sent.bundles,
      sentBytes: sent.bytes,
      receivedBundles: imported.length,
      receivedBytes: 0,
      detail: `sent ${sent.messages} messages and ${sent.acks} acks in ${sent.bundles} bundles; imported ${imported.length} of ${got.length} bundles${sent.bundles || got.length ? '; Syncthing rescanned' : ''}`,
    }
  },
}
