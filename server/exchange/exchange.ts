// The bundle exchange: export what waits for peers into a folder (a USB
// stick, a Syncthing folder, a transport's staging dir), import what peers
// left there. Every transport goes through this one face; the steps are
// modules of their own, each handed its services: export (export.ts),
// import (import.ts) and carrying bundles for neighbours (carry.ts).
//
// Export never deletes anything: a message leaves the outbox only when its
// peer acknowledges it. Import makes each message ours before it records
// the ack it owes; a bundle file is removed from the folder only after that.
import type { NodeContext } from '../context/context.js'
import type { NodeClock } from '../base/clock.js'
import { loadIdentity, type NodeIdentity } from '../identity/keys.js'
import { PeerService } from '../peers/service.js'
import { Outbox } from '../outbox/outbox.js'
import { EventLog } from '../events/log.js'
import { recordSafely, type EventRecorder } from '../events/record.js'
import { Carry } from './carry.js'
import { BundleExport, type BundleSink, type ExportDeps, type ExportOptions, type ExportResult } from './export.js'
import { BundleImport, MAX_BUNDLE_FILE_BYTES, type ClassicImportOutcome, type ImportOutcome, type ImportResult } from './import.js'
import type { CarrierOptions, Progress } from './run.js'
import type { LinkWidth } from '../outbox/link-width.js'

export interface ExchangeDeps {
  /** Where bundles, acks and deliveries are reported; by default the node's events table. */
  events?: EventRecorder
  /** Where a failure to report goes. */
  log?: (line: string) => void
}

/** What an exchange works with; made once by whoever starts the node, or a command. */
export interface ExchangeServices {
  identity: NodeIdentity
  peers: PeerService
  outbox: Outbox
  events: EventRecorder
  log: (line: string) => void
  carry: Carry
  export: BundleExport
  import: BundleImport
}

/** The services for an exchange on `node`: its identity, its peers, its outbox, where events go, and the steps built on them. */
export function exchangeServices(node: NodeContext, deps: ExchangeDeps = {}): ExchangeServices {
  const identity = loadIdentity(node.paths)
  // Every process that moves bundles (the node, the CLI, the USB offload)
  // reports into the one table the running node tails.
  const events = deps.events ?? new EventLog(node.db)
  const log = deps.log ?? ((line: string) => console.error(line))
  const peers = new PeerService(node.db, { domains: [node.config.node.domain], signPublicB64: identity.signPublicB64 })
  const outbox = new Outbox(node.db, node.paths.spool, events)
  const carry = new Carry({ node, peers, maxFileBytes: MAX_BUNDLE_FILE_BYTES })
  const report: ExportDeps['report'] = (kind, data) => recordSafely(events, kind, data, log)
  return {
    identity,
    peers,
    outbox,
    events,
    log,
    carry,
    export: new BundleExport({ node, identity, peers, outbox, carry, report }),
    import: new BundleImport({ node, identity, peers, outbox, carry, report, log }),
  }
}

export class Exchange {
  readonly identity: NodeIdentity
  readonly peers: PeerService
  readonly outbox: Outbox
  readonly events: EventRecorder
  /** Bundle lifetimes are decided on the node's clock, never below its floor. */
  readonly clock: NodeClock
  private readonly export: BundleExport
  private readonly import: BundleImport

  constructor(node: NodeContext, services: ExchangeServices) {
    this.identity = services.identity
    this.peers = services.peers
    this.outbox = services.outbox
    this.events = services.events
    this.clock = node.clock
    this.export = services.export
    this.import = services.import
  }

  // ---- export (export.ts) -------------------------------------------------

  /** Peers an `event` transport runs for: mail never sent, sent long ago and not acked, or acks owed. */
  peersWithUnsentWork(now = this.clock.now()): string[] {
    return this.export.peersWithUnsentWork(now)
  }

  /** Whether a carrier of width `link` has mail it takes, or acks, to send to `peer` now. */
  hasUnsentWorkFor(peer: string, link: LinkWidth, now = this.clock.now()): boolean {
    return this.export.hasUnsentWorkFor(peer, link, now)
  }

  /** Peers with mail, acks or relayed bundles waiting, by name. */
  peersWithWork(): string[] {
    return this.export.peersWithWork()
  }

  /** Writes bundles (mail and acks) for every peer that has something waiting, under DIR/outpost/<peer>/. */
  exportTo(dir: string, progress?: Progress, opts: CarrierOptions = {}): Promise<ExportResult[]> {
    return this.export.exportTo(dir, progress, opts)
  }

  /** Seals what waits for one peer (mail, then acks) and hands each bundle to `send`. */
  exportPeer(peerName: string, send: BundleSink, opts: ExportOptions = {}): Promise<ExportResult> {
    return this.export.exportPeer(peerName, send, opts)
  }

  acksOwedCount(): number {
    return this.export.acksOwedCount()
  }

  // ---- import (import.ts) -------------------------------------------------

  /** The finished bundle names under DIR/outpost/<self>/, oldest name first. */
  bundleFiles(dir: string): string[] {
    return this.import.bundleFiles(dir)
  }

  /** Imports every bundle for this node found in DIR, each on its own. */
  importFrom(dir: string, progress?: Progress, opts: CarrierOptions = {}): Promise<ImportResult[]> {
    return this.import.importFrom(dir, progress, opts)
  }

  /** Imports one bundle given as bytes (a file, or `outpost import -` on stdin). */
  importBundle(bytes: Buffer, name: string, opts: CarrierOptions = {}): Promise<ImportOutcome> {
    return this.import.importBundle(bytes, name, opts)
  }

  /** Takes in a plain batch SMTP batch from classic peer `peer` (an Exim/Postfix node over NNCP or Filespooler). */
  importClassic(peer: string, bytes: Buffer, opts: CarrierOptions & { name?: string } = {}): Promise<ClassicImportOutcome> {
    return this.import.importClassic(peer, bytes, opts)
  }

  /** Keeps what a carrier brought but could not read as a bundle (a damaged compact carriage form) in quarantine with its reason. */
  quarantineCarried(name: string, bytes: Buffer, reason: string, detail: string, via: string): ClassicImportOutcome {
    return this.import.quarantineClassic(name, bytes, reason, detail, undefined, via)
  }

  /** Keeps a classic batch that cannot be taken (from no peer, or too large) in quarantine with its reason. */
  quarantineClassic(name: string, bytes: Buffer, reason: string, detail: string, via?: string): ClassicImportOutcome {
    return this.import.quarantineClassic(name, bytes, reason, detail, undefined, via)
  }
}
