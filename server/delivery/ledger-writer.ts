// The delivery ledger's writes for many concurrent deliveries, grouped.
//
// Every message of every SMTP session in the process writes two rows: one
// 'pending' before Dovecot sees it, one 'delivered' after. Written one by
// one, each is its own commit and fsync (synchronous=FULL), and better-sqlite3
// blocks the whole event loop for it, so twenty senders queue behind each
// other's fsyncs. Here:
//
// - 'pending' rows asked for in one turn of the event loop are committed in
//   one transaction (group commit: one fsync for all), and each caller's
//   promise settles only once its own rows are on disk. The row must be
//   durable before the message goes to Dovecot: after a crash it is what says
//   which mailboxes to look into.
// - 'delivered' updates are not awaited: they are committed together on the
//   next turn, after the 250 went out. Until then the row says 'pending', and
//   a pending row already settles the same way after a crash: the retry
//   finds the message in the mailbox by its X-Outpost-Delivery key
//   (deliver.ts, mailboxHasDelivery) and does not deliver it again. The
//   window in which only the mailbox can tell is one loop turn longer than
//   with a synchronous update, which had the same window between Dovecot's
//   answer and its own commit.
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { deliveries } from '../db/schema.js'
import { preparedPerDb } from '../db/prepared.js'

/**
 * The two ledger writes made for every (message, recipient), here and by
 * import's batches (batch.ts), prepared once per database: building a
 * drizzle statement and preparing it anew for each message cost Haraka more
 * CPU than running it (a CPU profile of the 20-sender bench).
 */
export const ledgerWrites = preparedPerDb((db) => ({
  pending: db
    .insert(deliveries)
    .values({ messageKey: sql.placeholder('key'), recipient: sql.placeholder('recipient'), deliveredAt: sql.placeholder('at'), state: 'pending' })
    .onConflictDoUpdate({ target: [deliveries.messageKey, deliveries.recipient], set: { deliveredAt: sql`excluded.delivered_at`, state: 'pending' } })
    .prepare(),
  delivered: db
    .update(deliveries)
    .set({ state: 'delivered', deliveredAt: sql`${sql.placeholder('at')}` })
    .where(and(eq(deliveries.messageKey, sql.placeholder('key')), eq(deliveries.recipient, sql.placeholder('recipient'))))
    .prepare(),
}))

export interface LedgerRows {
  messageKey: string
  recipients: readonly string[]
  at: number
}

interface PendingRequest extends LedgerRows {
  resolve(): void
  reject(err: Error): void
}

export class LedgerWriter {
  private pendingQueue: PendingRequest[] = []
  private deliveredQueue: LedgerRows[] = []
  /** Message keys with a 'delivered' update not yet committed: a read of their rows must flush first. */
  private unsettled = new Set<string>()
  private pendingScheduled = false
  private deliveredScheduled = false
  /** How many transactions each kind of write took; the tests and the bench read them. */
  readonly commits = { pending: 0, delivered: 0 }

  constructor(
    readonly db: Db,
    /** Where a failed deferred write is reported: the rows stay 'pending' and the mailbox settles them. */
    private readonly logError: (line: string) => void,
  ) {}

  /** Records the rows as 'pending'; resolves once they are committed, together with every other request of this turn. */
  pending(rows: LedgerRows): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pendingQueue.push({ ...rows, resolve, reject })
      if (this.pendingScheduled) return
      this.pendingScheduled = true
      setImmediate(() => this.flushPending())
    })
  }

  /** Marks the rows 'delivered' on the next turn; never throws, never waits. */
  delivered(rows: LedgerRows): void {
    if (rows.recipients.length === 0) return
    this.deliveredQueue.push(rows)
    this.unsettled.add(rows.messageKey)
    if (this.deliveredScheduled) return
    this.deliveredScheduled = true
    setImmediate(() => this.flushDelivered())
  }

  /**
   * Commits the queued 'delivered' updates now if any is for `messageKey`,
   * so that a read of that key's rows sees what this process already knows.
   */
  settle(messageKey: string): void {
    if (this.unsettled.has(messageKey)) this.flushDelivered()
  }

  /** Commits every queued 'pending' request in one transaction. */
  flushPending(): void {
    this.pendingScheduled = false
    const batch = this.pendingQueue.splice(0)
    if (batch.length === 0) return
    try {
      const { pending } = ledgerWrites(this.db)
      this.db.transaction(() => {
        for (const r of batch) for (const recipient of r.recipients) pending.run({ key: r.messageKey, recipient, at: r.at })
      })
      this.commits.pending++
    } catch (err) {
      for (const r of batch) r.reject(err as Error)
      return
    }
    for (const r of batch) r.resolve()
  }

  /** Commits every queued 'delivered' update in one transaction. */
  flushDelivered(): void {
    this.deliveredScheduled = false
    const batch = this.deliveredQueue.splice(0)
    this.unsettled.clear()
    if (batch.length === 0) return
    try {
      const { delivered } = ledgerWrites(this.db)
      this.db.transaction(() => {
        for (const r of batch) for (const recipient of r.recipients) delivered.run({ key: r.messageKey, recipient, at: r.at })
      })
      this.commits.delivered++
    } catch (err) {
      const keys = batch.map((r) => r.messageKey.slice(0, 16)).join(', ')
      this.logError(`could not mark ${batch.length} deliveries as delivered in the ledger (keys ${keys}); their rows stay 'pending' and a retry looks into the mailbox: ${(err as Error).message}`)
    }
  }
}
