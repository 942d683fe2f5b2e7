// The outbox: mail accepted for other nodes, waiting for its next hop.
//
// A message becomes the outbox's when enqueue() returns: its file is in the
// spool (tmp → fsync → rename → fsync dir) and its rows are committed with
// synchronous=FULL. Haraka answers 250 only after that. A row leaves only
// when the peer acknowledges the message; the file leaves with its last row.
import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Db } from '../db/index.js'
import { outbox } from '../db/schema.js'
import { writeFileDurable } from '../base/durable.js'
import { hopMark } from '../base/hop-trace.js'
import { isMessageId } from '../bundle/message-id.js'
import { recordSafely, type EventRecorder } from '../events/record.js'
import { markDeparted, outboxTotals, peersDue, peersWithMail, peerTotals, type OutboxRow } from './queue-query.js'

/** Mail not acknowledged within this time is still kept; only bundle headers carry an expiry. */
export const DEFAULT_MESSAGE_LIFETIME_MS = 60 * 24 * 60 * 60 * 1000

/** An outbox row with its recipients parsed. */
export interface OutboxEntry extends Omit<OutboxRow, 'recipients'> {
  recipients: string[]
}

/** What waits, in a line: the dashboard's queue check and `outpost status`. */
export interface OutboxSummary {
  messages: number
  bytes: number
  oldestAt: number | null
}

/**
 * Mail that has waited this long means a carrier is not getting through.
 * A week: a stick carried once a week is a normal way to run a camp.
 */
export const QUEUE_STALE_MS = 7 * 24 * 60 * 60 * 1000

/** The dashboard's queue check: fine while nothing has waited longer than QUEUE_STALE_MS. */
export function queueHealth(s: OutboxSummary, now = Date.now()): { ok: boolean; detail: string } {
  if (!s.messages) return { ok: true, detail: 'nothing waits for a peer' }
  const days = Math.floor((now - (s.oldestAt ?? now)) / (24 * 60 * 60 * 1000))
  const waited = days >= 1 ? `${days} day${days === 1 ? '' : 's'}` : 'less than a day'
  if (s.oldestAt !== null && now - s.oldestAt > QUEUE_STALE_MS) {
    return { ok: false, detail: `${s.messages} messages wait; the oldest for ${waited}: check that its peer's transport runs (Transports page)` }
  }
  return { ok: true, detail: `${s.messages} messages wait; the oldest for ${waited}` }
}

/**
 * A file in the spool that is rewritten after each commit that gives an
 * online transport work (mail queued, acks owed). The running node's
 * transport scheduler watches the spool folder (transports/scheduler.ts),
 * and this write is the change it sees only once the rows are there: the
 * message's own file lands before its rows are committed, so a watch that
 * fired on it alone found nothing and the message waited for the next poll
 * (half a second, a quarter on average, measured as most of a LAN hop).
 * Dot-prefixed, so nothing takes it for a message. It is a wake-up call,
 * not a record: never fsync'd, and a missed one costs only the poll.
 */
export const WORK_SIGNAL = '.work'

/** Tells a running node's scheduler that work for a transport was committed just now; never throws. */
export function signalWork(spoolDir: string): void {
  try {
    writeFileSync(join(spoolDir, WORK_SIGNAL), String(Date.now()))
  } catch {
    // The poll finds the work anyway (a spool that is not writable fails the enqueue itself).
  }
}

export interface EnqueueInput {
  messageId: string
  sender: string
  data: Buffer
  /** Recipients grouped by next-hop peer. */
  byPeer: Map<string, string[]>
  hops: number
  expiresAt?: number
  now?: number
}

export class Outbox {
  constructor(
    private readonly db: Db,
    private readonly spoolDir: string,
    /** Where `message.queued` is reported; without it nothing is. */
    private readonly events?: EventRecorder,
  ) {}

  private file(messageId: string): string {
    // The id is 64 hex digits, so it is a safe file name.
    if (!isMessageId(messageId)) throw new Error(`not a stable message id: ${messageId}`)
    return join(this.spoolDir, `${messageId}.eml`)
  }

  /** Durably stores the message for each peer. Enqueueing the same message again adds what is missing and nothing twice. */
  enqueue(input: EnqueueInput): void {
    const now = input.now ?? Date.now()
    const path = this.file(input.messageId)
    if (!existsSync(path)) writeFileDurable(path, input.data, 0o600)
    hopMark('outbox.spooled')
    const rows = [...input.byPeer].map(([peer, rcpts]) => ({
      messageId: input.messageId,
      peer,
      sender: input.sender,
      recipients: JSON.stringify([...new Set(rcpts)].sort()),
      size: input.data.length,
      hops: input.hops,
      queuedAt: now,
      expiresAt: input.expiresAt ?? now + DEFAULT_MESSAGE_LIFETIME_MS,
    }))
    if (!rows.length) return
    const added = this.db.insert(outbox).values(rows).onConflictDoNothing().returning({ peer: outbox.peer }).all()
    hopMark('outbox.committed')
    if (added.length) signalWork(this.spoolDir)
    // Only rows that are new: a client's retry of the same message queues nothing twice, and says so once.
    for (const { peer } of added) recordSafely(this.events, 'message.queued', { messageId: input.messageId, peer, size: input.data.length })
  }

  /** Tells a running node's scheduler that work for a transport was committed just now (see WORK_SIGNAL). */
  signalWork(): void {
    signalWork(this.spoolDir)
  }

  read(messageId: string): Buffer {
    return readFileSync(this.file(messageId))
  }

  /**
   * A reader that returns every message in the same buffer (grown when one
   * is larger), for a caller that is done with a message before it reads
   * the next, as the export's streaming seal is: reading a hundred thousand
   * messages then leaves no buffer per message for the collector to find.
   */
  sharedReader(): (messageId: string) => Buffer {
    let buf = Buffer.alloc(0)
    return (messageId) => {
      const fd = openSync(this.file(messageId), 'r')
      try {
        const size = fstatSync(fd).size
        if (size > buf.length) buf = Buffer.allocUnsafe(Math.max(size, 64 * 1024))
        let n = 0
        while (n < size) {
          const got = readSync(fd, buf, n, size - n, null)
          if (got === 0) break
          n += got
        }
        return buf.subarray(0, n)
      } finally {
        closeSync(fd)
      }
    }
  }

  waiting(peer?: string): OutboxEntry[] {
    const q = this.db.select().from(outbox)
    const rows = (peer ? q.where(eq(outbox.peer, peer)) : q).orderBy(asc(outbox.queuedAt)).all()
    return rows.map((r) => ({ ...r, recipients: JSON.parse(r.recipients) as string[] }))
  }

  peersWithMail(): string[] {
    return peersWithMail(this.db)
  }

  /** Peers with mail an online carrier may send now (never sent, due again, or retried): an index seek per peer. */
  peersDue(now: number): string[] {
    return peersDue(this.db, now)
  }

  /** Records a departure by carrier `via`: counted, and held back from online carriers by its retransmit timeout (resend-policy.ts). */
  markExported(peer: string, messageIds: string[], bundleId: string, now = Date.now(), via = 'folder'): void {
    markDeparted(this.db, peer, messageIds, bundleId, via, now)
  }

  /** The peer has the messages: drop its rows, and each file no other peer still waits for. Returns how many rows went. */
  acknowledge(peer: string, messageIds: string[]): number {
    if (!messageIds.length) return 0
    let removed = 0
    for (let i = 0; i < messageIds.length; i += 500) {
      const chunk = messageIds.slice(i, i + 500)
      removed += this.db.delete(outbox).where(and(eq(outbox.peer, peer), inArray(outbox.messageId, chunk))).run().changes
      const still = new Set(this.db.select({ id: outbox.messageId }).from(outbox).where(inArray(outbox.messageId, chunk)).all().map((r) => r.id))
      for (const id of chunk) {
        if (still.has(id)) continue
        try {
          unlinkSync(this.file(id))
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        }
      }
    }
    return removed
  }

  summary(): OutboxSummary {
    // From the totals the outbox's triggers keep: a row per peer, not a read of every message.
    return outboxTotals(peerTotals(this.db))
  }

  /**
   * Marks a peer's exported but unacked messages as due again (the web
   * admin's "retry"): an online carrier sends them at once instead of
   * after their retransmit timeout. A store carrier sends all that waits
   * anyway. Returns how many were marked.
   */
  resend(peer: string): number {
    return this.db.update(outbox).set({ lastExportAt: 0, dueAt: 0 }).where(and(eq(outbox.peer, peer), sql`${outbox.exports} > 0`)).run().changes
  }

  /** Drops a waiting message for a peer by hand (the web admin's "discard"). */
  discard(peer: string, messageId: string): boolean {
    return this.acknowledge(peer, [messageId]) > 0
  }
}
