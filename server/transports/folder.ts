// The folder transport: a USB stick's mount point, a shared folder, any
// directory both nodes can see in turn. It writes bundles for the peer into
// DIR/outpost/<peer>/ and imports what DIR/outpost/<self>/ holds.
import { existsSync, lstatSync, statSync } from 'node:fs'
import { stickSink } from '../exchange/export.js'
import { TransportConfigError, checkConfigKeys, sendOptions, type TransportDriver } from './transport.js'

export interface FolderConfig {
  path: string
}

export const folderTransport: TransportDriver<FolderConfig> = {
  kind: 'folder',
  doc: 'Bundles travel through a folder: a USB stick, a network share, anything both nodes can see in turn. The layout on it is documented in docs/bundle-format.md.',
  // A stick is usually plugged in by hand; every 5 minutes is a cheap look.
  defaultSchedule: '*/5 * * * *',
  configKeys: { path: { doc: 'the folder (for a stick: its mount point)', required: true } },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    if (!c.path!.startsWith('/')) throw new TransportConfigError(`folder: path must be absolute, not "${c.path}"`)
    return { path: c.path! }
  },
  async run(ctx, config) {
    if (!existsSync(config.path) || !statSync(config.path).isDirectory()) {
      throw new Error(`${config.path} is not there (stick not plugged in, or not mounted?)`)
    }
    const sent = await ctx.exchange.exportPeer(ctx.peer, stickSink(config.path, ctx.peer), sendOptions(ctx, 'folder'))
    // lstat: a link on the stick is never followed (the import skips it).
    const waiting = new Map(ctx.exchange.bundleFiles(config.path).map((f) => [f, lstatSync(f).size]))
    const got = await ctx.exchange.importFrom(config.path, ctx.progress, { via: 'folder' })
    const imported = got.filter((r) => r.outcome.kind === 'imported')
    const receivedBytes = imported.reduce((n, r) => n + (waiting.get(r.file) ?? 0), 0)
    return {
      sentBundles: sent.bundles,
      sentBytes: sent.bytes,
      receivedBundles: imported.length,
      receivedBytes,
      detail: `sent ${sent.messages} messages and ${sent.acks} acks in ${sent.bundles} bundles; imported ${imported.length} of ${got.length} bundles`,
    }
  },
}
