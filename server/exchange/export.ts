// Export: sealing what waits for a peer into bundles and handing them to a
// carrier. The exchange hands this step its services; the carriers give it
// a sink (a file on a stick, an nncp-exec, an HTTP POST).
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { and, count, eq, inArray } from 'drizzle-orm'
import { countHeld, countWaiting, dueBands, peerHasDueFor } from '../outbox/queue-query.js'
import { WIDE, type LinkWidth } from '../outbox/link-width.js'
import { resendPolicyFor } from '../outbox/resend-policy.js'
import { acksOwed } from '../db/schema.js'
import { bundleFileName, MAX_ACK_IDS, newBundleId, sealBundle, sealMailBundle, type BundleHeader, type NarrowSealOptions } from '../bundle/format.js'
import { stickFolder } from '../bundle/stick-layout.js'
import type { BsmtpMessage } from '../bundle/bsmtp.js'
import { writeFileDurable } from '../base/durable.js'
import { crashPoint } from '../base/crash-point.js'
import { hopMark } from '../base/hop-trace.js'
import { ExchangeError, type CarrierOptions, type Progress, type StepDeps } from './run.js'

/** A bundle stays valid this long after it was made; a stick can be slow. */
export const BUNDLE_LIFETIME_MS = 90 * 24 * 60 * 60 * 1000
/** How many nodes a message may pass through; a routing loop ends here. */
export const HOP_LIMIT = 16
/**
 * Bundles are cut at about this many bytes of raw mail, so one bad copy
 * loses little. 4 MiB is brotli's window (format.ts), so a larger bundle
 * packs no better; and the sealed bundle is held once in memory to be
 * signed (twice for a moment while its pieces are joined). With 16 MiB an
 * export of 20,000 armored 2.3 KB messages peaked 62 MB above idle, with
 * 4 MiB 45 MB, for the same bytes on the stick (36.57 MB either way).
 */
export const BUNDLE_TARGET_BYTES = 4 * 1024 * 1024
export const MAX_MESSAGES_PER_BUNDLE = 5000
/** Delivers one sealed bundle to a peer by some carrier; returns where it went (a path, a packet id), if anything. */
export type BundleSink = (name: string, bytes: Buffer, header: Omit<BundleHeader, 'v' | 'count'>) => Promise<string | void>

/**
 * Writes bundles for `peer` into the stick layout under `dir`
 * (DIR/outpost/<peer>/), as the folder, USB and Syncthing carriers do.
 * tmp → fsync → rename → fsync dir: a stick pulled halfway (or a sync tool
 * that copies mid-write) leaves only a dot-file that no importer counts.
 */
export function stickSink(dir: string, peer: string): BundleSink {
  return async (name, bytes) => {
    const file = join(stickFolder(dir, peer), name)
    writeFileDurable(file, bytes, 0o644)
    return file
  }
}

/** A bundle write of writeFileDurable's (base/durable.ts) that never reached its rename: `.NAME.obundle.PID.HEX.tmp`. */
const CUT_WRITE = /^\.[^/]+\.obundle\.\d+\.[0-9a-f]{8}\.tmp$/

/**
 * Removes the bundle writes a pulled stick cut short in DIR/outpost/<peer>/
 * and returns their names. They never count as bundles (a reader skips
 * them: stick-layout.ts), but nothing else would ever remove them, and a
 * stick pulled often would fill up. Only for a stick in the box's own port
 * (`via: 'usb'`), which nothing else writes to while it is plugged in: a
 * shared folder (Syncthing, a network mount) may hold another writer's
 * write in progress under a name like these.
 */
export function sweepCutWrites(dir: string, peer: string): string[] {
  const folder = stickFolder(dir, peer)
  let names: string[]
  try {
    names = readdirSync(folder)
  } catch {
    return []
  }
  const cut = names.filter((n) => CUT_WRITE.test(n))
  for (const n of cut) rmSync(join(folder, n), { force: true })
  return cut
}

export interface ExportResult {
  peer: string
  bundles: number
  messages: number
  acks: number
  /** Bundles of other nodes carried on unopened. */
  relayed: number
  /** Messages for the peer larger than this carrier takes (link-width.ts): they wait for a wider one. */
  held: number
  bytes: number
  files: string[]
  /** Writes a pulled stick had cut short, removed from the peer's folder before this export (sweepCutWrites). */
  swept?: number
  /**
   * With `settle: 'on-confirm'`: records the run's bundles as handed over
   * (the messages as departed, the acks as sent, the carried bundles as
   * gone). Until it is called, all of it stays waiting for the next run.
   */
  confirm?: () => void
}

export interface ExportOptions extends CarrierOptions {
  onMessages?: (n: number) => void
  /** A narrow carrier's packing of mail bundles (bundle/format.ts), with what it knows the peer holds. */
  narrow?: NarrowSealOptions
  /**
   * When the bundles count as handed over: as soon as `send` returns (a file
   * written, a POST answered 2xx, an nncp-exec that took the packet), or only
   * when the caller calls the result's `confirm` (a pickup answer, which the
   * peer confirms after reading it: an answer cut by a dropped link hands
   * over nothing).
   */
  settle?: 'on-send' | 'on-confirm'
  /**
   * How wide the carrier is (link-width.ts): a narrow one takes messages up
   * to its limit, chat-sized first; wide (everything, oldest first) by default.
   */
  link?: LinkWidth
  /**
   * Mail bundles to seal in this call at most (relayed bundles and acks go
   * as always). A carrier that sends one bundle at a time (the radio) asks
   * for one, sends it, and asks again: each call chooses afresh, so a chat
   * message that came in meanwhile goes before larger mail chosen earlier.
   */
  maxMailBundles?: number
  /** Raw mail per bundle, in bytes (BUNDLE_TARGET_BYTES by default); a message larger than this goes alone. */
  bundleBytes?: number
}

export type ExportDeps = StepDeps

export class BundleExport {
  constructor(private readonly deps: ExportDeps) {}

  /**
   * What an `event` transport runs for: peers with mail never exported yet,
   * mail exported long ago and still not acked (the copy may have been
   * lost on the way), or acks owed.
   */
  peersWithUnsentWork(now = this.deps.node.clock.now()): string[] {
    const owed = this.deps.node.db.selectDistinct({ peer: acksOwed.peer }).from(acksOwed).all().map((r) => r.peer)
    // Polled every half second by the scheduler: an index seek per peer, not a read of every waiting message.
    return [...new Set([...this.deps.outbox.peersDue(now), ...owed])]
  }

  /** Peers with mail, acks or relayed bundles waiting, by name. */
  peersWithWork(): string[] {
    const owed = this.deps.node.db.selectDistinct({ peer: acksOwed.peer }).from(acksOwed).all().map((r) => r.peer)
    return [...new Set([...this.deps.outbox.peersWithMail(), ...owed, ...this.deps.carry.peersWithRelayed()])].sort()
  }

  /**
   * Whether a carrier of width `link` has anything to send to `peer` now:
   * mail it takes (as peersWithUnsentWork, within its size limit), acks owed
   * or bundles carried for neighbours. A narrow carrier holding only a photo
   * has nothing to do.
   */
  hasUnsentWorkFor(peer: string, link: LinkWidth, now = this.deps.node.clock.now()): boolean {
    if (peerHasDueFor(this.deps.node.db, peer, now, link)) return true
    return this.deps.node.db.select({ n: count() }).from(acksOwed).where(eq(acksOwed.peer, peer)).get()!.n > 0
  }

  acksOwedCount(): number {
    return this.deps.node.db.select({ n: count() }).from(acksOwed).get()?.n ?? 0
  }

  /** Writes bundles (mail and acks) for every peer that has something waiting, under DIR/outpost/<peer>/. */
  async exportTo(dir: string, progress?: Progress, opts: CarrierOptions = {}): Promise<ExportResult[]> {
    const now = opts.now ?? this.deps.node.clock.now()
    const via = opts.via ?? 'folder'
    if (!existsSync(dir)) throw new ExchangeError(`${dir} does not exist; mount the stick (or create the folder) first`)
    const targets = this.peersWithWork()
    const total = targets.reduce((n, p) => n + countWaiting(this.deps.node.db, p), 0)
    let done = 0
    const results: ExportResult[] = []
    for (const peer of targets) {
      const swept = via === 'usb' ? sweepCutWrites(dir, peer).length : 0
      const r = await this.exportPeer(peer, stickSink(dir, peer), { now, via, onMessages: (n) => progress?.((done += n), total, peer) })
      if (swept) r.swept = swept
      if (r.bundles || swept) results.push(r)
    }
    progress?.(total, total, 'done')
    return results
  }

  /**
   * Seals what waits for one peer (mail, then acks) and hands each bundle to
   * `send`, the one step every transport provides: a file on a stick, an
   * nncp-exec, an HTTP POST. Only after `send` returns (or, with
   * `settle: 'on-confirm'`, only on `confirm()`) are the messages counted as
   * exported and the acks as sent; a failed send leaves both waiting for the
   * next run.
   */
  async exportPeer(peerName: string, send: BundleSink, opts: ExportOptions = {}): Promise<ExportResult> {
    const { node, identity, peers, outbox, carry } = this.deps
    const now = opts.now ?? node.clock.now()
    const via = opts.via ?? 'folder'
    const link = opts.link ?? WIDE
    const r: ExportResult = { peer: peerName, bundles: 0, messages: 0, acks: 0, relayed: 0, held: 0, bytes: 0, files: [] }
    const sent = (bundleId: string, messages: number, bytes: number) => this.deps.report('bundle.exported', { peer: peerName, bundleId, messages, bytes, via })
    // What makes each bundle count as handed over, run at once or kept for confirm().
    const pending: (() => void)[] = []
    const settle = (step: () => void) => {
      if (opts.settle === 'on-confirm') pending.push(step)
      else step()
    }
    if (opts.settle === 'on-confirm') {
      let confirmed = false
      r.confirm = () => {
        if (confirmed) return
        confirmed = true
        for (const step of pending) step()
      }
    }
    const peer = peers.get(peerName)
    // A removed peer's mail stays in the outbox until it is re-added or discarded.
    // A classic peer reads no bundles: its mail leaves only as plain batch
    // SMTP through its own carrier (transports/classic-nncp.ts).
    if (!peer || peer.classic) return r
    for (const relayed of carry.relayedFor(peerName)) {
      const where = await send(relayed.name, relayed.bytes, relayed.header)
      settle(() => {
        // Handed on: the next node dedups it by bundle id if it comes twice.
        // Another confirmed answer may have carried the same file already.
        rmSync(relayed.file, { force: true })
        sent(relayed.header.id, 0, relayed.bytes.length)
      })
      r.bundles++
      r.relayed++
      r.bytes += relayed.bytes.length
      if (where) r.files.push(where)
    }
    // Read a page at a time, and only what the carrier's resend policy makes
    // due and its width lets through, in its bands: on a narrow carrier the
    // chat-sized messages fill bundles of their own and go first.
    const bands = dueBands(node.db, peerName, resendPolicyFor(via), now, link)
    r.held = countHeld(node.db, peerName, link)
    // Each message is read from the spool when the seal asks for it, into
    // one buffer for all, and streamed into the bundle: memory holds a
    // bundle's ciphertext and one message, never the batch of mail.
    const read = outbox.sharedReader()
    let mailBundles = 0
    for (const chunk of bandChunks(bands, opts.bundleBytes ?? BUNDLE_TARGET_BYTES)) {
      if (opts.maxMailBundles !== undefined && mailBundles >= opts.maxMailBundles) break
      mailBundles++
      hopMark('export.chosen')
      const messages = function* (): Generator<BsmtpMessage> {
        for (const e of chunk) yield { id: e.messageId, sender: e.sender, recipients: JSON.parse(e.recipients) as string[], data: read(e.messageId) }
      }
      const header = this.header('mail', peerName, Math.max(...chunk.map((e) => e.hops)), now)
      const sizeHint = chunk.reduce((n, e) => n + e.size, 0)
      const bytes = await sealMailBundle({ header, messages: messages(), count: chunk.length, sizeHint, signKey: identity.signPrivate, recipient: peer.age, ...(opts.narrow ? { narrow: opts.narrow } : {}) })
      hopMark('export.sealed', `mail ${chunk.length}`)
      const where = await send(bundleFileName(header), bytes, header)
      crashPoint('export.mail-written')
      settle(() => {
        outbox.markExported(peerName, chunk.map((e) => e.messageId), header.id, now, via)
        sent(header.id, chunk.length, bytes.length)
        hopMark('export.settled', 'mail')
      })
      r.bundles++
      r.messages += chunk.length
      r.bytes += bytes.length
      if (where) r.files.push(where)
      opts.onMessages?.(chunk.length)
    }
    const ackIds = node.db.select({ id: acksOwed.messageId }).from(acksOwed).where(eq(acksOwed.peer, peerName)).all().map((a) => a.id)
    for (let i = 0; i < ackIds.length; i += MAX_ACK_IDS) {
      const ids = ackIds.slice(i, i + MAX_ACK_IDS)
      const header = this.header('ack', peerName, 0, now)
      const bytes = await sealBundle({ header, payload: { acks: { messageIds: ids, bundleIds: [] } }, signKey: identity.signPrivate, recipient: peer.age })
      hopMark('export.sealed', `ack ${ids.length}`)
      const where = await send(bundleFileName(header), bytes, header)
      crashPoint('export.ack-written')
      settle(() => {
        // The ack is on its way; if it gets lost, the peer sends the message
        // again, and that copy is acked again.
        node.db.delete(acksOwed).where(and(eq(acksOwed.peer, peerName), inArray(acksOwed.messageId, ids))).run()
        sent(header.id, 0, bytes.length)
        hopMark('export.settled', 'ack')
      })
      r.bundles++
      r.acks += ids.length
      r.bytes += bytes.length
      if (where) r.files.push(where)
    }
    return r
  }

  private header(kind: 'mail' | 'ack', destination: string, hops: number, now: number): Omit<BundleHeader, 'v' | 'count'> {
    return { id: newBundleId(), kind, origin: this.deps.node.config.node.name, destination, created: now, expires: now + BUNDLE_LIFETIME_MS, hops, hopLimit: HOP_LIMIT }
  }
}

/** The bundles' worth of each band in turn: a bundle never mixes two bands. */
function* bandChunks<E extends { size: number }>(bands: Iterable<E>[], target: number): Generator<E[]> {
  for (const band of bands) yield* chunks(band, target)
}

function* chunks<E extends { size: number }>(entries: Iterable<E>, target: number): Generator<E[]> {
  let cur: E[] = []
  let bytes = 0
  for (const e of entries) {
    if (cur.length && (bytes + e.size > target || cur.length >= MAX_MESSAGES_PER_BUNDLE)) {
      yield cur
      cur = []
      bytes = 0
    }
    cur.push(e)
    bytes += e.size
  }
  if (cur.length) yield cur
}
