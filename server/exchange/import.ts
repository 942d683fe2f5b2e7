// Import: taking bundles in from a folder (a USB stick, a Syncthing folder,
// a transport's staging dir) or as bytes (an HTTP POST, stdin). The exchange
// hands this step its services.
//
// Import makes each message ours (delivered locally through LMTP, or
// durably in the outbox for its next hop) before it records the ack it
// owes; a bundle file is removed from the folder only after that. Acks
// that come in release the outbox's copies.
import { renameSync, unlinkSync, existsSync, statSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { basename, join } from 'node:path'
import { eq, inArray, sql } from 'drizzle-orm'
import type { NodeContext } from '../context/context.js'
import type { OutpostEvents } from '../events/types.js'
import { acksOwed, importedBundles, seenMessages } from '../db/schema.js'
import {
  BundleError,
  openBundle,
  readBundleHeader,
  type BundleHeader,
  FRAME_BYTES,
  MAX_HEADER_BYTES,
} from '../bundle/format.js'
import { isFinishedBundleName, STICK_FOLDER } from '../bundle/stick-layout.js'
import { listStickFolder, readStickFile, StickFileError, summarizeStickFile } from '../bundle/stick-file.js'
import { BsmtpError, parseBsmtp, type BsmtpMessage } from '../bundle/bsmtp.js'
import { Keyring } from '../bundle/narrow/keyring.js'
import { crashPoint } from '../base/crash-point.js'
import { hopMark } from '../base/hop-trace.js'
import type { DeliveryOutcome } from '../delivery/deliver.js'
import { BatchDelivery } from '../delivery/batch.js'
import { DoveadmBulkStore } from '../delivery/bulk-store.js'
import { quarantine, quarantineLimits, QuarantineFullError, type QuarantineLimits } from '../base/quarantine.js'
import { belowFloor } from '../base/disk-floor.js'
import { foreignSender } from '../routing/sender-origin.js'
import { splitAddress } from '../accounts/address.js'
import { groupByHop, INTERNET, senderRoutesTo } from '../routing/route.js'
import { reachesInternet } from '../routing/internet.js'
import { HOP_LIMIT } from './export.js'
import { ExchangeError, type CarrierOptions, type Progress, type StepDeps } from './run.js'

/**
 * The most a bundle's payload may unpack to. Export cuts bundles at 16 MiB
 * of mail, or one message alone when it is larger; a message is at most
 * limits.max_message_bytes (30 MiB by default), and BSMTP's dot-stuffing
 * adds at most a third in the worst case: 64 MiB holds that. The payload,
 * the bundle and the parsed messages are all in memory during an import,
 * and a Pi has 1 GB (it was 512 MiB, half of it). Enforced while unpacking:
 * brotli stops at the limit. See docs/limits.md.
 */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
/** The largest bundle file import reads: the most it unpacks to, plus room for the encryption and framing, and for data that does not compress. */
export const MAX_BUNDLE_FILE_BYTES = MAX_DECOMPRESSED_BYTES + 16 * 1024 * 1024
/**
 * Messages handed to Dovecot between two ledger commits. Each batch costs
 * two fsync'd commits (pending before, delivered after) instead of two per
 * message; a crash in the middle leaves at most this many pending rows,
 * which the next import settles by reading each mailbox once.
 */
export const IMPORT_BATCH = 2000
/** Added to the name of a file left on a stick because it was too large, so the next import passes it by. */
export const REFUSED_SUFFIX = '.refused'

export type ImportOutcome =
  | { kind: 'imported'; header: BundleHeader; delivered: number; forwarded: number; duplicates: number; quarantined: number; acked: number }
  | { kind: 'duplicate'; header: BundleHeader }
  /** Not taken for now (local delivery down, the disk nearly full, the quarantine full): the sender keeps it. */
  | { kind: 'deferred'; header?: BundleHeader; reason: string }
  | { kind: 'quarantined'; reason: string; file: string }
  | { kind: 'not-for-us'; header: BundleHeader }
  | { kind: 'relayed'; header: BundleHeader }
  /** Left where it was, unread: no plain file (a link, a FIFO, a folder), or unreadable. */
  | { kind: 'skipped'; reason: string }

/** What became of a batch from a classic peer (importClassic). */
export type ClassicImportOutcome =
  | { kind: 'imported'; peer: string; batchId: string; messages: number; delivered: number; forwarded: number; duplicates: number; quarantined: number }
  | { kind: 'duplicate'; peer: string; batchId: string }
  /** Not taken for now (local delivery down, the disk nearly full, the quarantine full): the carrier keeps it. */
  | { kind: 'deferred'; reason: string }
  | { kind: 'quarantined'; reason: string; detail: string; file: string }

/** Messages of one bundle handled so far, of how many it carries. */
export type MessageProgress = (done: number, count: number) => void

export interface ImportResult {
  file: string
  outcome: ImportOutcome
}

export interface ImportDeps extends StepDeps {
  /** Where a problem that is not an event goes (a stick file that could not be renamed). */
  log: (line: string) => void
}

export class BundleImport {
  private readonly node: NodeContext
  private readonly self: string
  private readonly domains: string[]

  constructor(private readonly deps: ImportDeps) {
    this.node = deps.node
    this.self = deps.node.config.node.name
    this.domains = [deps.node.config.node.domain]
  }

  private get quarantineLimits(): QuarantineLimits {
    return quarantineLimits(this.node.config.storage)
  }

  /**
   * The finished bundle names under DIR/outpost/<self>/, oldest name first.
   * A stick with no folder for us has nothing for us; a folder that cannot
   * be read is an error that says what to do (it is not "nothing here").
   */
  bundleFiles(dir: string): string[] {
    return this.stickListing(dir).files
  }

  private stickListing(dir: string): { files: string[]; skipped: ImportResult[] } {
    const folder = join(dir, STICK_FOLDER, this.self)
    let listing
    try {
      listing = listStickFolder(folder)
    } catch (err) {
      throw new ExchangeError((err as Error).message)
    }
    if (listing.kind === 'absent') return { files: [], skipped: [] }
    if (listing.kind === 'not-a-folder') {
      return { files: [], skipped: [{ file: folder, outcome: { kind: 'skipped', reason: `${folder} is a ${listing.what} where the folder of bundles for this node should be; it was left alone` } }] }
    }
    return { files: listing.names.filter(isFinishedBundleName).sort().map((n) => join(folder, n)), skipped: [] }
  }

  /**
   * Imports every bundle for this node found in DIR. Each entry is handled
   * on its own: a bad bundle goes to quarantine, an entry that is no plain
   * file is skipped with its reason (and reported), and the rest carry on.
   */
  async importFrom(dir: string, progress?: Progress, opts: CarrierOptions = {}): Promise<ImportResult[]> {
    const via = opts.via ?? 'folder'
    if (!existsSync(dir)) throw new ExchangeError(`${dir} does not exist; mount the stick (or create the folder) first`)
    const { files, skipped } = this.stickListing(dir)
    const results: ImportResult[] = []
    for (const r of skipped) results.push(this.skipped(r.file, (r.outcome as { reason: string }).reason, via))
    results.push(...this.takeOverForNeighbours(dir, via))
    // Progress is counted in bytes of bundle files: their sizes are known
    // before any is opened (a message count only once each is decrypted),
    // and a bundle's share moves with its messages as they are delivered.
    const sizes = files.map((f) => {
      try {
        return statSync(f).size
      } catch {
        return 0
      }
    })
    const total = sizes.reduce((a, b) => a + b, 0)
    let bytesDone = 0
    let messagesDone = 0
    const report = (data: Omit<OutpostEvents['import.run'], 'via'>) => this.deps.report('import.run', { via, ...data })
    let reported = -1
    const step = (done: number, what: string) => {
      // A bundle's last batch already reported where its file ends.
      if (done === reported) return
      reported = done
      progress?.(done, total, what)
      report({ phase: 'progress', done, total, messages: messagesDone })
    }
    if (files.length) report({ phase: 'start', done: 0, total, messages: 0 })
    try {
      for (const [i, file] of files.entries()) {
        const name = basename(file)
        const size = sizes[i]!
        let bytes: Buffer
        try {
          bytes = readStickFile(file, MAX_BUNDLE_FILE_BYTES)
        } catch (err) {
          if (!(err instanceof StickFileError)) throw err
          results.push(err.problem === 'too-large' ? this.quarantineTooLarge(file, err.size ?? 0, via) : this.skipped(file, err.message, via))
          bytesDone += size
          step(bytesDone, name)
          continue
        }
        const before = messagesDone
        const onMessages = (done: number, count: number) => {
          messagesDone = before + done
          step(bytesDone + (count > 0 ? Math.floor((size * done) / count) : 0), `${name}: ${done} of ${count} messages`)
        }
        const outcome = await this.importBundle(bytes, name, { via, now: opts.now, onMessages })
        crashPoint('import.bundle-done')
        // The file goes from the folder once its content is ours (or in
        // quarantine); a deferred bundle stays for the next try.
        if (outcome.kind === 'imported' || outcome.kind === 'duplicate' || outcome.kind === 'quarantined') unlinkSync(file)
        results.push({ file, outcome })
        bytesDone += size
        step(bytesDone, name)
      }
    } catch (err) {
      report({ phase: 'error', error: (err as Error).message, messages: messagesDone })
      throw err
    }
    if (files.length) report({ phase: 'done', done: total, total, messages: messagesDone })
    return results
  }

  /** An entry left where it is, with the reason reported where a person sees it. */
  private skipped(file: string, reason: string, via: string): ImportResult {
    this.deps.report('bundle.skipped', { file, reason, via })
    return { file, outcome: { kind: 'skipped', reason } }
  }

  /**
   * A file over the size limit: its size, hash and first bytes (the frame
   * and header, which say who made it) go to quarantine, not its body; on
   * the stick it is renamed so that the next import passes it by, and kept.
   */
  private quarantineTooLarge(file: string, size: number, via: string): ImportResult {
    const name = basename(file)
    let kept: { size: number; sha256: string; head: Buffer }
    try {
      kept = summarizeStickFile(file, FRAME_BYTES + MAX_HEADER_BYTES)
    } catch (err) {
      return this.skipped(file, (err as Error).message, via)
    }
    const reason = `too-large: the file has ${size} bytes, more than the limit of ${MAX_BUNDLE_FILE_BYTES}; only its first ${kept.head.length} bytes are kept here (sha256 of the whole file ${kept.sha256}), and the file was left on the stick as ${name}${REFUSED_SUFFIX}`
    let q: string
    try {
      q = quarantine(this.node.paths.quarantine, `${name}.head`, kept.head, reason, undefined, this.quarantineLimits)
    } catch (err) {
      if (err instanceof QuarantineFullError) return this.skipped(file, `${name} is too large (${size} bytes) and ${err.message}`, via)
      throw err
    }
    try {
      renameSync(file, `${file}${REFUSED_SUFFIX}`)
    } catch (err) {
      this.deps.log(`could not rename ${file} on the stick (${(err as Error).message}); the next import will refuse it again`)
    }
    this.deps.report('bundle.quarantined', { file: q, reason: 'too-large', via })
    return { file, outcome: { kind: 'quarantined', reason: 'too-large', file: q } }
  }

  /**
   * A stick also carries bundles for nodes other than the one it is plugged
   * into; the carry step (carry.ts) takes over those for our peers.
   */
  private takeOverForNeighbours(dir: string, via: string): ImportResult[] {
    const results: ImportResult[] = []
    for (const e of this.deps.carry.takeOverFrom(dir)) {
      if (e.kind === 'unreadable') throw new ExchangeError(e.reason)
      results.push(e.kind === 'relayed' ? { file: e.file, outcome: { kind: 'relayed', header: e.header } } : this.skipped(e.file, e.reason, via))
    }
    return results
  }

  /** Imports one bundle given as bytes (a file, or `outpost import -` on stdin). */
  async importBundle(bytes: Buffer, name: string, opts: CarrierOptions & { onMessages?: MessageProgress } = {}): Promise<ImportOutcome> {
    const via = opts.via ?? 'folder'
    const outcome = await this.openAndImport(bytes, name, opts.now ?? this.node.clock.now(), via, opts.onMessages)
    if (outcome.kind === 'imported') {
      const h = outcome.header
      this.deps.report('bundle.imported', { peer: h.origin, bundleId: h.id, messages: h.kind === 'ack' ? 0 : h.count - outcome.duplicates, duplicates: outcome.duplicates, via })
      if (h.kind === 'ack') this.deps.report('ack.received', { peer: h.origin, messages: outcome.acked })
    } else if (outcome.kind === 'quarantined') {
      this.deps.report('bundle.quarantined', { file: outcome.file, reason: outcome.reason, via })
    }
    return outcome
  }

  private async openAndImport(bytes: Buffer, name: string, now: number, via: string, onMessages?: MessageProgress): Promise<ImportOutcome> {
    let header: BundleHeader | undefined
    try {
      header = readBundleHeader(bytes)
      if (header.destination !== this.self) return { kind: 'not-for-us', header }
      if (this.node.db.select().from(importedBundles).where(eq(importedBundles.bundleId, header.id)).get()) return { kind: 'duplicate', header }
      // Unpacked, the mail may take a few times the bundle's size on disk
      // (outbox or mailbox, ledger): wait rather than fail halfway.
      const full = belowFloor(this.node.paths.data, this.node.config.storage.min_free_mb * 1024 * 1024, 3 * bytes.length)
      if (full) return { kind: 'deferred', header, reason: full }
      const opened = await openBundle(bytes, {
        signerFor: (origin) => this.deps.peers.signerFor(origin),
        identity: this.deps.identity.ageIdentity,
        self: this.self,
        now,
        maxBytes: MAX_BUNDLE_FILE_BYTES,
        maxDecompressedBytes: MAX_DECOMPRESSED_BYTES,
        limits: { maxMessageBytes: this.node.config.limits.max_message_bytes + 64 * 1024 },
        keyFor: (ref) => this.keyring().get(ref),
      })
      // Signed by a trusted peer: the real time is at least when it was made
      // (within limits: see clock.ts). A box that booted with no network
      // learns the time from the first stick.
      hopMark('import.opened', opened.header.kind)
      this.node.clock.observePeerTime(opened.header.created, opened.header.origin)
      if ('acks' in opened.payload) {
        const ids = opened.payload.acks.messageIds
        this.deps.outbox.acknowledge(opened.header.origin, ids)
        this.recordBundle(opened.header, ids.length, now)
        return { kind: 'imported', header: opened.header, delivered: 0, forwarded: 0, duplicates: 0, quarantined: 0, acked: ids.length }
      }
      // Kept before the bundle counts as taken in: the peer refers to these
      // keys from the moment it hears that it was.
      if (opened.kind === 'mail' && opened.keys) this.keyring().put(opened.keys)
      return await this.importMail(opened.header, opened.payload.messages, now, via, onMessages)
    } catch (err) {
      // A bad bundle is a value, not a crash: it goes to quarantine and the
      // import carries on with the next one. Anything else is our fault.
      if (!(err instanceof BundleError) && !(err instanceof BsmtpError)) throw err
      const reason = err instanceof BundleError ? err.reason : 'malformed'
      try {
        const file = quarantine(this.node.paths.quarantine, name, bytes, `${reason}: ${(err as Error).message}`, now, this.quarantineLimits)
        return { kind: 'quarantined', reason, file }
      } catch (qerr) {
        // Kept where it came from (the stick, the sender) until there is room.
        if (qerr instanceof QuarantineFullError) return { kind: 'deferred', ...(header ? { header } : {}), reason: `${reason}, and ${qerr.message}` }
        throw qerr
      }
    }
  }

  /** The Autocrypt keys narrow payloads brought whole (bundle/narrow/keyring.ts). */
  private keyring(): Keyring {
    return new Keyring(join(this.node.paths.spool, 'narrow-keys'))
  }

  private recordBundle(header: BundleHeader, messages: number, now: number): void {
    this.node.db.insert(importedBundles).values({ bundleId: header.id, origin: header.origin, kind: header.kind, messages, importedAt: now }).onConflictDoNothing().run()
  }

  /** The Internet is the way out on a gateway, and on a node whose uplink is an email account. */
  private isGateway(): boolean {
    return reachesInternet(this.node.config.gateway.enabled, this.node.db)
  }

  private isLocal(address: string): boolean {
    try {
      return this.domains.includes(splitAddress(address).domain)
    } catch {
      return false
    }
  }

  /** Which of these message ids this node has taken before (any bundle, any peer). */
  private seenAmong(ids: string[]): Set<string> {
    const seen = new Set<string>()
    for (let i = 0; i < ids.length; i += 400) {
      for (const r of this.node.db.select({ id: seenMessages.messageId }).from(seenMessages).where(inArray(seenMessages.messageId, ids.slice(i, i + 400))).all()) seen.add(r.id)
    }
    return seen
  }

  private async importMail(header: BundleHeader, messages: BsmtpMessage[], now: number, via: string, onMessages?: MessageProgress): Promise<ImportOutcome> {
    const r = await this.takeMessages({ origin: header.origin, batch: `bundle ${header.id}`, hops: header.hops, hopLimit: header.hopLimit, owesAcks: true }, messages, now, via, onMessages)
    if (r.deferred) return { kind: 'deferred', header, reason: r.deferred }
    this.recordBundle(header, messages.length, now)
    return { kind: 'imported', header, delivered: r.delivered, forwarded: r.forwarded, duplicates: r.duplicates, quarantined: r.quarantined, acked: 0 }
  }

  /**
   * Takes in a plain batch SMTP batch from a classic peer (an Exim or
   * Postfix node; see docs/interop/exim.md), after its carrier said which
   * peer it is: NNCP checked the packet's signature against that node's key
   * before it ran our handler. From here on the batch is held to the rules a
   * bundle is: the peer may send only from its own domains (sender-origin.ts),
   * each message is delivered or forwarded once (the same ledger, keyed by
   * the same stable id), and a batch that is not well-formed batch SMTP goes
   * to quarantine whole, before any of it is delivered. A classic peer reads
   * no acks, so none are owed.
   */
  async importClassic(peerName: string, bytes: Buffer, opts: CarrierOptions & { name?: string } = {}): Promise<ClassicImportOutcome> {
    const via = opts.via ?? 'nncp-classic'
    const now = opts.now ?? this.node.clock.now()
    const name = opts.name ?? 'classic.bsmtp'
    const peer = this.deps.peers.get(peerName)
    if (!peer?.classic) return this.quarantineClassic(name, bytes, 'not-a-peer', `${peerName} is not a classic peer of this node (\`outpost peer list\`)`, now, via)
    const batchId = `classic-${createHash('sha256').update(bytes).digest('hex')}`
    if (this.node.db.select().from(importedBundles).where(eq(importedBundles.bundleId, batchId)).get()) return { kind: 'duplicate', peer: peerName, batchId }
    const full = belowFloor(this.node.paths.data, this.node.config.storage.min_free_mb * 1024 * 1024, 3 * bytes.length)
    if (full) return { kind: 'deferred', reason: full }
    let messages: BsmtpMessage[]
    try {
      messages = parseBsmtp(bytes, { maxMessageBytes: this.node.config.limits.max_message_bytes + 64 * 1024 }, 'classic')
    } catch (err) {
      if (!(err instanceof BsmtpError)) throw err
      return this.quarantineClassic(name, bytes, err.kind, `from classic peer ${peerName}: ${err.message}`, now, via)
    }
    // A message that passed through the classic peer has made one hop.
    const r = await this.takeMessages({ origin: peerName, batch: `classic batch ${batchId.slice(8, 20)}`, hops: 1, hopLimit: HOP_LIMIT, owesAcks: false }, messages, now, via)
    if (r.deferred) return { kind: 'deferred', reason: r.deferred }
    this.node.db.insert(importedBundles).values({ bundleId: batchId, origin: peerName, kind: 'classic', messages: messages.length, importedAt: now }).onConflictDoNothing().run()
    this.deps.report('bundle.imported', { peer: peerName, bundleId: batchId, messages: messages.length - r.duplicates, duplicates: r.duplicates, via })
    return { kind: 'imported', peer: peerName, batchId, messages: messages.length, delivered: r.delivered, forwarded: r.forwarded, duplicates: r.duplicates, quarantined: r.quarantined }
  }

  /** A whole classic batch kept for a person, with its reason; deferred when the quarantine is full (the carrier keeps it). */
  quarantineClassic(name: string, bytes: Buffer, reason: string, detail: string, now = this.node.clock.now(), via = 'nncp-classic'): ClassicImportOutcome {
    try {
      const file = quarantine(this.node.paths.quarantine, name, bytes, `${reason}: ${detail}`, now, this.quarantineLimits)
      this.deps.report('bundle.quarantined', { file, reason, via })
      return { kind: 'quarantined', reason, detail, file }
    } catch (err) {
      if (err instanceof QuarantineFullError) return { kind: 'deferred', reason: `${reason} (${detail}), and ${err.message}` }
      throw err
    }
  }

  /**
   * Delivers, forwards or quarantines each message of one batch (a bundle, or
   * a classic peer's batch SMTP), each once by the ledger; `owesAcks`: the
   * origin reads acks, so one is owed for each message taken.
   */
  private async takeMessages(
    src: { origin: string; batch: string; hops: number; hopLimit: number; owesAcks: boolean },
    messages: BsmtpMessage[],
    now: number,
    via: string,
    onMessages?: MessageProgress,
  ): Promise<{ delivered: number; forwarded: number; duplicates: number; quarantined: number; deferred: string }> {
    const origin = src.origin
    let delivered = 0
    let forwarded = 0
    let duplicates = 0
    let quarantined = 0
    let deferred = ''
    const db = this.node.db
    // LMTP sessions for the whole bundle; the ledger is written once
    // before and once after each batch (delivery/batch.ts).
    const local = new BatchDelivery({
      db,
      lmtp: { socketPath: this.node.paths.lmtpSocket, lhloName: this.node.config.node.domain, timeoutMs: 30_000 },
      mailDir: this.node.paths.mail,
      // A mailbox's many messages go in one `doveadm import` (delivery/bulk-store.ts).
      bulk: new DoveadmBulkStore({ dovecotConf: this.node.paths.dovecotConf, mailDir: this.node.paths.mail }),
    })
    /** Ids met earlier in this bundle: a repeat is handled by its first copy. */
    const inBundle = new Set<string>()
    // Routes and the gateway setting do not change while a bundle goes in;
    // asked once per domain, not once per message (a bundle is often
    // thousands of messages from one or two domains).
    const gateway = this.isGateway()
    const routesOf = new Map<string, ReturnType<ImportDeps['peers']['resolveDomain']>>()
    const resolve = (d: string, o: { useDefault?: boolean } = {}) => {
      const k = `${o.useDefault === false ? '-' : '+'}${d}`
      if (!routesOf.has(k)) routesOf.set(k, this.deps.peers.resolveDomain(d, o))
      return routesOf.get(k)
    }
    // Written for every message: prepared once, not built and prepared each time.
    const seen = db.insert(seenMessages).values({ messageId: sql.placeholder('id'), fromPeer: origin, seenAt: now }).onConflictDoNothing().prepare()
    const ack = db.insert(acksOwed).values({ peer: origin, messageId: sql.placeholder('id'), createdAt: now }).onConflictDoNothing().prepare()
    try {
      for (let start = 0; start < messages.length; start += IMPORT_BATCH) {
        const batch = messages.slice(start, start + IMPORT_BATCH)
        const seenBefore = this.seenAmong(batch.map((m) => m.id))
        const plans = batch.map((m) => {
          if (seenBefore.has(m.id)) return { m, duplicate: 'acked' as const }
          if (inBundle.has(m.id)) return { m, duplicate: 'repeat' as const }
          inBundle.add(m.id)
          // Before it is delivered or relayed on: the origin may hand us only
          // mail from the domains it is the route for (sender-origin.ts). The
          // message is kept in quarantine for a person and acked like any other
          // refused message, so the origin does not send it again forever.
          const foreign = foreignSender(m, origin, { domains: this.domains, gateway, resolve })
          return {
            m,
            duplicate: false as const,
            foreign,
            local: foreign ? [] : m.recipients.filter((r) => this.isLocal(r)),
            remote: foreign ? [] : m.recipients.filter((r) => !this.isLocal(r)),
          }
        })
        const toDeliver = plans.flatMap((p) => (p.duplicate === false && p.local.length > 0 ? [p] : []))
        const outcomes = toDeliver.length > 0 ? await local.deliver(toDeliver.map((p) => ({ key: p.m.id, sender: p.m.sender, recipients: p.local, message: p.m.data }))) : []
        if (toDeliver.length > 0) crashPoint('import.delivered')
        const outcomeOf = new Map(toDeliver.map((p, i) => [p, outcomes[i]!]))
        this.reportDelivered(outcomes, via)

        /** Ids that are ours now (delivered, forwarded or in quarantine): seen, and an ack owed. */
        const taken: string[] = []
        const ackOnly: string[] = []
        for (const p of plans) {
          if (p.duplicate) {
            duplicates++
            if (p.duplicate === 'acked') ackOnly.push(p.m.id)
            continue
          }
          const { m } = p
          const problems: string[] = p.foreign ? [p.foreign] : []
          const outcome = outcomeOf.get(p)
          if (outcome) {
            if (outcome.verdict === 'retry') {
              // Dovecot is not there (is the node running?): leave the bundle for
              // the next import; what was delivered is in the ledger.
              deferred = `local delivery failed for now: ${outcome.text}`
              continue
            }
            if (outcome.verdict === 'rejected') problems.push(`local delivery refused: ${outcome.text}`)
            else delivered++
          }
          if (p.remote.length) {
            if (this.forward(src, m, p.remote, problems, now, { gateway, resolve })) forwarded++
          }
          if (problems.length) {
            // Kept, not lost: the message waits in quarantine for a person.
            try {
              quarantine(this.node.paths.quarantine, `${m.id}.eml`, m.data, `from ${src.batch} of ${origin}: ${problems.join('; ')}`, now, this.quarantineLimits)
            } catch (err) {
              if (!(err instanceof QuarantineFullError)) throw err
              // Not seen, not acked: the origin keeps the message and sends it again.
              deferred = `a message could not be kept: ${err.message}`
              continue
            }
            quarantined++
          }
          taken.push(m.id)
        }
        db.transaction(() => {
          for (const id of taken) {
            seen.run({ id })
            if (src.owesAcks) ack.run({ id })
          }
          if (src.owesAcks) for (const id of ackOnly) ack.run({ id })
        })
        // The acks may go back at once, not at the scheduler's next poll.
        if (src.owesAcks && taken.length + ackOnly.length > 0) this.deps.outbox.signalWork()
        hopMark('import.done')
        onMessages?.(start + batch.length, messages.length)
      }
    } finally {
      await local.close()
    }
    return { delivered, forwarded, duplicates, quarantined, deferred }
  }

  /**
   * One event per recipient Dovecot stored, also when another recipient of
   * the same message failed; written in one commit, not one fsync each.
   */
  private reportDelivered(outcomes: DeliveryOutcome[], via: string): void {
    const stored = outcomes.flatMap((o) => o.results.filter((r) => r.code >= 200 && r.code < 300).map((r) => ({ messageId: o.messageKey, recipient: r.recipient })))
    if (stored.length === 0) return
    try {
      this.node.db.transaction(() => {
        for (const s of stored) this.deps.report('message.delivered', { ...s, via })
      })
    } catch (err) {
      // What happened still happened; only the record of it is missing.
      this.deps.log(`could not record ${stored.length} deliveries in the activity log: ${(err as Error).message}`)
    }
  }

  /** Puts a message in the outbox for its next hops; false when it goes nowhere (the reasons are in `problems`). */
  private forward(
    src: { origin: string; hops: number; hopLimit: number },
    m: BsmtpMessage,
    remote: string[],
    problems: string[],
    now: number,
    // The Internet is the way out on a gateway, and on a node whose uplink is an email account.
    { gateway, resolve }: { gateway: boolean; resolve: (d: string, o: { useDefault?: boolean }) => ReturnType<ImportDeps['peers']['resolveDomain']> },
  ): boolean {
    const origin = src.origin
    const byPeer = new Map<string, string[]>()
    const hops = groupByHop(remote, { domains: this.domains, gateway, resolve }, (r) => splitAddress(r).domain)
    // A remote address of one of our domains has no account here: no route either.
    for (const r of [...hops.local, ...hops.none.map((n) => n.recipient)]) problems.push(`no route for ${r}`)
    for (const [to, rs] of hops.byPeer) {
      if (to === INTERNET) {
        // The gateway sends to the world only in the names of the domains
        // the origin is trusted for: otherwise one peer could mail the
        // Internet as another peer's users, or as ours.
        const senderDomain = m.sender.includes('@') ? m.sender.slice(m.sender.lastIndexOf('@') + 1) : ''
        if (senderRoutesTo(senderDomain, origin, { domains: this.domains, resolve })) byPeer.set(INTERNET, rs)
        else for (const _ of rs) problems.push(`${origin} may not send to the Internet as <${m.sender}>: that domain is not routed to ${origin}`)
      } else if (to === origin && src.hops > 0) for (const r of rs) problems.push(`${r} would go back to ${origin}, where it came from`)
      else byPeer.set(to, rs)
    }
    if (src.hops + 1 > src.hopLimit) {
      problems.push(`hop limit ${src.hopLimit} reached`)
      byPeer.clear()
    }
    if (byPeer.size === 0) return false
    this.deps.outbox.enqueue({ messageId: m.id, sender: m.sender, data: m.data, byPeer, hops: src.hops + 1, now })
    crashPoint('import.forwarded')
    return true
  }
}
