// Carrying bundles for neighbours. A stick also carries bundles for nodes
// other than the one it is plugged into. When such a bundle's destination is
// one of our peers and its origin is a peer whose signature checks out, we
// take it over, unopened, and carry it on with our next export to that peer;
// otherwise it stays on the stick. The origin keeps its messages until their
// destination acks them, so taking over never makes a message depend on us
// alone.
import { readdirSync, readFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { NodeContext } from '../context/context.js'
import type { PeerService } from '../peers/service.js'
import { BundleError, bundleFileName, readBundleHeader, verifyBundle, type BundleHeader } from '../bundle/format.js'
import { isFinishedBundleName, STICK_FOLDER } from '../bundle/stick-layout.js'
import { listStickFolder, readStickFile, StickFileError } from '../bundle/stick-file.js'
import { writeFileDurable } from '../base/durable.js'

/** What taking over found on a stick, entry by entry. */
export type CarryEntry =
  /** Taken over: now in the relay folder, gone from the stick. */
  | { kind: 'relayed'; file: string; header: BundleHeader }
  /** Left where it is, with the reason. */
  | { kind: 'skipped'; file: string; reason: string }
  /** The stick's outpost folder exists and cannot be read: not the same as empty. */
  | { kind: 'unreadable'; file: string; reason: string }

export interface RelayedBundle {
  file: string
  name: string
  bytes: Buffer
  header: BundleHeader
}

export interface CarryDeps {
  node: NodeContext
  peers: PeerService
  /** The largest bundle file read from a stick. */
  maxFileBytes: number
}

/** A folder that is not there holds nothing; any other failure to read it is thrown. */
function namesIn(folder: string): string[] {
  try {
    return readdirSync(folder)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

export class Carry {
  constructor(private readonly deps: CarryDeps) {}

  /** Takes over, from the stick at `dir`, the bundles for our peers that their origin signed. */
  takeOverFrom(dir: string): CarryEntry[] {
    const { node, peers, maxFileBytes } = this.deps
    const self = node.config.node.name
    const results: CarryEntry[] = []
    const top = join(dir, STICK_FOLDER)
    let listing
    try {
      listing = listStickFolder(top)
    } catch (err) {
      return [{ kind: 'unreadable', file: top, reason: (err as Error).message }]
    }
    if (listing.kind === 'absent') return results
    if (listing.kind === 'not-a-folder') return [{ kind: 'skipped', file: top, reason: `${top} is a ${listing.what} where the stick's outpost folder should be; it was left alone` }]
    for (const dest of listing.names.sort()) {
      if (dest === self || !peers.get(dest)) continue
      const folder = join(top, dest)
      let inside
      try {
        inside = listStickFolder(folder)
      } catch (err) {
        results.push({ kind: 'skipped', file: folder, reason: (err as Error).message })
        continue
      }
      if (inside.kind === 'absent') continue
      if (inside.kind === 'not-a-folder') {
        results.push({ kind: 'skipped', file: folder, reason: `${folder} is a ${inside.what} where the folder of bundles for ${dest} should be; it was left alone` })
        continue
      }
      for (const name of inside.names.filter(isFinishedBundleName).sort()) {
        const file = join(folder, name)
        try {
          const bytes = readStickFile(file, maxFileBytes)
          const header = verifyBundle(bytes, (origin) => peers.signerFor(origin))
          if (header.destination !== dest || header.origin === dest || header.expires < node.clock.now()) continue
          node.clock.observePeerTime(header.created, header.origin)
          // Kept under its bundle name (header-made, short), not the stick's.
          writeFileDurable(join(node.paths.relay, dest, bundleFileName(header)), bytes, 0o600)
          unlinkSync(file)
          results.push({ kind: 'relayed', file, header })
        } catch (err) {
          // Not ours to judge: a bundle we cannot verify stays where it is.
          if (err instanceof BundleError) continue
          // No plain file, or unreadable: say so, leave it, and carry on.
          if (err instanceof StickFileError) results.push({ kind: 'skipped', file, reason: err.message })
          else throw err
        }
      }
    }
    return results
  }

  /** Bundles taken over for `peer`, still valid; expired ones are dropped (their origin has the messages). */
  relayedFor(peer: string): RelayedBundle[] {
    const { node } = this.deps
    const folder = join(node.paths.relay, peer)
    const out: RelayedBundle[] = []
    for (const name of namesIn(folder).filter(isFinishedBundleName).sort()) {
      const file = join(folder, name)
      const bytes = readFileSync(file)
      const header = readBundleHeader(bytes)
      if (header.expires < node.clock.now()) {
        unlinkSync(file)
        continue
      }
      out.push({ file, name, bytes, header })
    }
    return out
  }

  /** Peers with taken-over bundles waiting. */
  peersWithRelayed(): string[] {
    const relay = this.deps.node.paths.relay
    return namesIn(relay).filter((p) => namesIn(join(relay, p)).some(isFinishedBundleName))
  }
}
