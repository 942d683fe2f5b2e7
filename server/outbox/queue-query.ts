// The outbox as the views see it: counts and sums from SQL aggregates, and
// the waiting messages in pages with a cursor. Every query here is shaped
// for one of the outbox's indexes (schema.ts), and a unit test holds each
// one's plan to an index: a view costs what it shows, not what waits.
//
// The order of the queue is oldest first, ties broken by peer and then by
// message id, so a cursor (queuedAt, peer, messageId) names one place in
// it; a message queued after a page was read sorts after it, and none is
// shown twice or skipped.
import type { Db } from '../db/index.js'
import { dueCondition, EVENT_HOLD_MS, nextDueSql, type ResendPolicy } from './resend-policy.js'
import { holdThresholds, sendBands, WIDE, type CarrierWidth, type LinkWidth, type PeerHolds, type SizeBand } from './link-width.js'

/** What waits for one peer, in a line. */
export interface PeerTotals {
  peer: string
  messages: number
  bytes: number
  oldestAt: number
}

/** One waiting message as the queue views show it. */
export interface QueueItem {
  messageId: string
  peer: string
  sender: string
  recipients: string[]
  size: number
  queuedAt: number
  /** How often it left, by any carrier. */
  exports: number
  /** When it last left; 0 after a retry; null while it never left. */
  lastExportAt: number | null
  /** The bundle that last carried it. */
  lastBundleId: string | null
  /** The carrier it last left by (`folder`, `usb`, `http`, …). */
  lastVia: string | null
}

export interface QueuePage {
  items: QueueItem[]
  /** The cursor of the next page; null on the last one. */
  next: string | null
}

export const DEFAULT_PAGE = 100
export const MAX_PAGE = 1000

/** The outbox's row of one message for one peer, with the columns the exchange needs. */
export interface OutboxRow {
  messageId: string
  peer: string
  sender: string
  recipients: string
  size: number
  hops: number
  queuedAt: number
  expiresAt: number
  exports: number
  lastExportAt: number | null
  lastBundleId: string | null
  lastVia: string | null
  dueAt: number
}

const COLUMNS = `message_id AS messageId, peer, sender, recipients, size, hops, queued_at AS queuedAt, expires_at AS expiresAt,
  exports, last_export_at AS lastExportAt, last_bundle_id AS lastBundleId, last_via AS lastVia, due_at AS dueAt`

/**
 * The hot queries, by name, as SQLite runs them: the plan test explains
 * each one, and the functions below run exactly these texts.
 */
export const QUEUE_SQL = {
  /**
   * `status`, the dashboard and the queue views' headings: the counts and
   * sums the outbox's triggers keep (outbox_peer_totals), and each peer's
   * oldest message from one index seek: a row per peer, not per message.
   */
  peerTotals: `SELECT t.peer, t.messages, t.bytes, (SELECT min(queued_at) FROM outbox WHERE peer = t.peer) AS oldestAt FROM outbox_peer_totals t ORDER BY t.peer`,
  peerCount: `SELECT count(*) AS n FROM outbox WHERE peer = ?`,
  /** The peers with mail, by skipping through the index: a step per peer, not per message. */
  peersWithMail: `WITH RECURSIVE p(peer) AS (SELECT min(peer) FROM outbox UNION ALL SELECT (SELECT min(peer) FROM outbox WHERE peer > p.peer) FROM p WHERE p.peer IS NOT NULL) SELECT peer FROM p WHERE peer IS NOT NULL`,
  /**
   * Due for an online carrier, no larger than the carrier takes (link-width.ts),
   * and not just taken by any carrier (EVENT_HOLD_MS): an index-only seek.
   */
  peerHasDue: `SELECT 1 AS due FROM outbox WHERE peer = ? AND due_at <= ? AND (last_export_at IS NULL OR last_export_at <= ?) AND size <= ? LIMIT 1`,
  firstPage: `SELECT ${COLUMNS} FROM outbox ORDER BY queued_at, peer, message_id LIMIT ?`,
  pageAfter: `SELECT ${COLUMNS} FROM outbox WHERE (queued_at, peer, message_id) > (?, ?, ?) ORDER BY queued_at, peer, message_id LIMIT ?`,
  peerFirstPage: `SELECT ${COLUMNS} FROM outbox WHERE peer = ? ORDER BY queued_at, message_id LIMIT ?`,
  peerPageAfter: `SELECT ${COLUMNS} FROM outbox WHERE peer = ? AND (queued_at, message_id) > (?, ?) ORDER BY queued_at, message_id LIMIT ?`,
} as const

export class CursorError extends Error {
  override name = 'CursorError'
}

interface Cursor {
  queuedAt: number
  peer: string
  messageId: string
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.queuedAt, c.peer, c.messageId])).toString('base64url')
}

export function decodeCursor(s: string): Cursor {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'))
  } catch {
    throw new CursorError(`"${s.slice(0, 40)}" is not a queue cursor; use the "next" value of the page before`)
  }
  if (!Array.isArray(v) || v.length !== 3 || typeof v[0] !== 'number' || typeof v[1] !== 'string' || typeof v[2] !== 'string') {
    throw new CursorError(`"${s.slice(0, 40)}" is not a queue cursor; use the "next" value of the page before`)
  }
  return { queuedAt: v[0], peer: v[1], messageId: v[2] }
}

function item(r: OutboxRow): QueueItem {
  return {
    messageId: r.messageId,
    peer: r.peer,
    sender: r.sender,
    recipients: JSON.parse(r.recipients) as string[],
    size: r.size,
    queuedAt: r.queuedAt,
    exports: r.exports,
    lastExportAt: r.exports ? r.lastExportAt : null,
    lastBundleId: r.lastBundleId,
    lastVia: r.lastVia,
  }
}

/** What waits for each peer, by peer name. */
export function peerTotals(db: Db): PeerTotals[] {
  return db.$client.prepare(QUEUE_SQL.peerTotals).all() as PeerTotals[]
}

/** The whole outbox in a line, from the per-peer totals (a handful of rows). */
export function outboxTotals(perPeer: PeerTotals[]): { messages: number; bytes: number; oldestAt: number | null } {
  let messages = 0
  let bytes = 0
  let oldestAt: number | null = null
  for (const p of perPeer) {
    messages += p.messages
    bytes += p.bytes
    if (oldestAt === null || p.oldestAt < oldestAt) oldestAt = p.oldestAt
  }
  return { messages, bytes, oldestAt }
}

export function countWaiting(db: Db, peer: string): number {
  return (db.$client.prepare(QUEUE_SQL.peerCount).get(peer) as { n: number }).n
}

export function peersWithMail(db: Db): string[] {
  return (db.$client.prepare(QUEUE_SQL.peersWithMail).all() as { peer: string }[]).map((r) => r.peer)
}

/**
 * What `event` transports run for: peers with a message an online carrier
 * may send now that no carrier took in the last EVENT_HOLD_MS (a retry's
 * mark passes at once). One index seek per peer.
 */
export function peersDue(db: Db, now: number): string[] {
  const has = db.$client.prepare(QUEUE_SQL.peerHasDue)
  return peersWithMail(db).filter((p) => has.get(p, now, now - EVENT_HOLD_MS, Number.MAX_SAFE_INTEGER) !== undefined)
}

/**
 * Whether `peer` has a message a carrier of width `link` would send now
 * (peersDue's rule, within the carrier's size limit): a narrow `event`
 * carrier is not run again and again for a photo it holds.
 */
export function peerHasDueFor(db: Db, peer: string, now: number, link: LinkWidth): boolean {
  return db.$client.prepare(QUEUE_SQL.peerHasDue).get(peer, now, now - EVENT_HOLD_MS, sqlLimit(link.maxMessageBytes)) !== undefined
}

/** A byte limit as SQLite compares it (Infinity is not an integer it binds). */
function sqlLimit(bytes: number): number {
  return Number.isFinite(bytes) ? bytes : Number.MAX_SAFE_INTEGER
}

/** One page of the queue, oldest first; of one peer, or of all. */
export function queuePage(db: Db, opts: { peer?: string; after?: string; limit?: number } = {}): QueuePage {
  const limit = Math.min(Math.max(Math.trunc(opts.limit ?? DEFAULT_PAGE), 1), MAX_PAGE)
  const c = opts.after ? decodeCursor(opts.after) : undefined
  const q = db.$client
  // One row more than the page, to know whether another follows.
  let rows: OutboxRow[]
  if (opts.peer !== undefined) {
    if (c && c.peer !== opts.peer) throw new CursorError(`that cursor belongs to the queue of ${c.peer}, not of ${opts.peer}`)
    rows = (c ? q.prepare(QUEUE_SQL.peerPageAfter).all(opts.peer, c.queuedAt, c.messageId, limit + 1) : q.prepare(QUEUE_SQL.peerFirstPage).all(opts.peer, limit + 1)) as OutboxRow[]
  } else {
    rows = (c ? q.prepare(QUEUE_SQL.pageAfter).all(c.queuedAt, c.peer, c.messageId, limit + 1) : q.prepare(QUEUE_SQL.firstPage).all(limit + 1)) as OutboxRow[]
  }
  const more = rows.length > limit
  const items = rows.slice(0, limit).map(item)
  const last = items.at(-1)
  return { items, next: more && last ? encodeCursor(last) : null }
}

/** Every waiting message, page by page: memory holds one page, however long the queue. */
export function* walkQueue(db: Db, opts: { peer?: string; pageSize?: number } = {}): Generator<QueueItem> {
  let after: string | undefined
  for (;;) {
    const page = queuePage(db, { peer: opts.peer, after, limit: opts.pageSize ?? MAX_PAGE })
    yield* page.items
    if (!page.next) return
    after = page.next
  }
}

/**
 * The rows an export run writes for `peer` under `policy`, in the bands a
 * carrier of width `link` sends them (link-width.ts: all at once on a wide
 * carrier, chat-sized first on a narrow one), each band oldest first and
 * read `pageSize` at a time. Marking rows exported between pages does not
 * move the cursor (it walks queued_at and message_id, which never change).
 */
export function dueBands(db: Db, peer: string, policy: ResendPolicy, now: number, link: LinkWidth = WIDE, pageSize = 500): Generator<OutboxRow>[] {
  return sendBands(link).map((band) => dueInBand(db, peer, policy, now, band, pageSize))
}

/** The rows an export run writes for `peer` under `policy` on a wide carrier, oldest first. */
export function dueForExport(db: Db, peer: string, policy: ResendPolicy, now: number, pageSize = 500): Generator<OutboxRow> {
  return dueInBand(db, peer, policy, now, sendBands(WIDE)[0]!, pageSize)
}

function* dueInBand(db: Db, peer: string, policy: ResendPolicy, now: number, band: SizeBand, pageSize: number): Generator<OutboxRow> {
  const due = dueCondition(policy, now)
  const sizes = [band.minBytes, sqlLimit(band.maxBytes)]
  const first = db.$client.prepare(`SELECT ${COLUMNS} FROM outbox WHERE peer = ? AND ${due.sql} AND size > ? AND size <= ? ORDER BY queued_at, message_id LIMIT ?`)
  const next = db.$client.prepare(`SELECT ${COLUMNS} FROM outbox WHERE peer = ? AND (queued_at, message_id) > (?, ?) AND ${due.sql} AND size > ? AND size <= ? ORDER BY queued_at, message_id LIMIT ?`)
  let rows = first.all(peer, ...due.params, ...sizes, pageSize) as OutboxRow[]
  while (rows.length) {
    yield* rows
    if (rows.length < pageSize) return
    const last = rows.at(-1)!
    rows = next.all(peer, last.queuedAt, last.messageId, ...due.params, ...sizes, pageSize) as OutboxRow[]
  }
}

/** How many rows an export run under `policy` over `link` would write for `peer`: the progress bar's total. */
export function countDue(db: Db, peer: string, policy: ResendPolicy, now: number, link: LinkWidth = WIDE): number {
  const due = dueCondition(policy, now)
  return (db.$client.prepare(`SELECT count(*) AS n FROM outbox WHERE peer = ? AND ${due.sql} AND size <= ?`).get(peer, ...due.params, sqlLimit(link.maxMessageBytes)) as { n: number }).n
}

/** How many messages for `peer` are larger than a carrier of width `link` takes: held for a wider one. */
export function countHeld(db: Db, peer: string, link: LinkWidth): number {
  if (!Number.isFinite(link.maxMessageBytes)) return 0
  return (db.$client.prepare(`SELECT count(*) AS n FROM outbox WHERE peer = ? AND size > ?`).get(peer, link.maxMessageBytes) as { n: number }).n
}

/**
 * Records that messages left for `peer` in bundle `bundleId` by carrier
 * `via`: one more departure, and when an online carrier may send each again.
 */
export function markDeparted(db: Db, peer: string, messageIds: string[], bundleId: string, via: string, now: number): void {
  const due = nextDueSql(via, now)
  const stmt = db.$client.prepare(
    `UPDATE outbox SET due_at = ${due.sql}, exports = exports + 1, last_export_at = ?, last_bundle_id = ?, last_via = ? WHERE peer = ? AND message_id = ?`,
  )
  db.$client.transaction(() => {
    for (const id of messageIds) stmt.run(...due.params, now, bundleId, via, peer, id)
  })()
}

/**
 * How many messages for `peer` its carriers hold back (link-width.ts): some
 * carrier does not take them, or none does. A seek in the peer's index,
 * whose entries carry the size.
 */
export function peerHolds(db: Db, peer: string, carriers: readonly CarrierWidth[]): PeerHolds {
  const { someRefuse, allRefuse } = holdThresholds(carriers)
  const over = (bytes: number) => (Number.isFinite(bytes) ? (db.$client.prepare('SELECT count(*) AS n FROM outbox WHERE peer = ? AND size > ?').get(peer, bytes) as { n: number }).n : 0)
  const held = over(someRefuse)
  return { held, onlyNarrow: held ? over(allRefuse) : 0 }
}
