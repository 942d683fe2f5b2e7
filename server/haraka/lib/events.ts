// What the Haraka process reports: a message accepted, delivered here,
// queued for a peer. Reporting must never fail or slow a delivery, so events
// are written after the hook has answered (on the next turn of the event
// loop), on a connection of their own that waits at most a moment for the
// database lock; better-sqlite3 blocks the whole process while it waits,
// and the node's 5 s busy timeout would stall every SMTP session. An event
// that cannot be written is logged and dropped.
import { openDb, type Db } from '../../db/index.js'
import { EventLog } from '../../events/log.js'
import type { EventRecorder } from '../../events/record.js'
import type { EventKind, OutpostEvents } from '../../events/types.js'
import type { DeliveryOutcome } from '../../delivery/deliver.js'

/** How long an event write waits for the lock before it is dropped. */
export const EVENT_BUSY_TIMEOUT_MS = 250

export type PendingEvent = { [K in EventKind]: { kind: K; data: OutpostEvents[K] } }[EventKind]

export interface AcceptedMessage {
  messageId: string
  from: string
  to: string[]
  size: number
}

/**
 * The events of one pass through the queue hook: `message.accepted` when
 * the client is told 250, and `message.delivered` for each mailbox Dovecot
 * stored the message in, also when another recipient failed (those
 * mailboxes have it, and a retry goes only to the rest).
 */
export function deliveryEvents(m: AcceptedMessage, outcome: Pick<DeliveryOutcome, 'verdict'> & { results?: DeliveryOutcome['results'] }): PendingEvent[] {
  const out: PendingEvent[] = []
  if (outcome.verdict === 'delivered') out.push({ kind: 'message.accepted', data: { messageId: m.messageId, from: m.from, to: m.to, size: m.size } })
  for (const r of outcome.results ?? []) {
    if (r.code >= 200 && r.code < 300) out.push({ kind: 'message.delivered', data: { messageId: m.messageId, recipient: r.recipient, via: 'smtp' } })
  }
  return out
}

/** An EventRecorder that writes on the next turn of the event loop and never throws. */
export class DeferredEvents implements EventRecorder {
  private queue: (PendingEvent & { at: number })[] = []
  private scheduled = false
  private open: { path: string; db: Db; log: EventLog } | undefined

  constructor(
    private readonly dbPath: () => string,
    private readonly logError: (line: string) => void,
  ) {}

  record<K extends EventKind>(kind: K, data: OutpostEvents[K]): void {
    this.queue.push({ kind, data, at: Date.now() } as PendingEvent & { at: number })
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }

  /**
   * Writes what is queued, in one transaction: one fsync for every event of
   * the turn instead of one each (synchronous=FULL), and better-sqlite3
   * blocks every SMTP session of the process while it waits for the disk.
   * An event that fails alone is dropped alone (a savepoint each); a lock
   * that cannot be had drops the turn's events. Returns how many were written.
   */
  flush(): number {
    this.scheduled = false
    const batch = this.queue.splice(0)
    if (batch.length === 0) return 0
    const lost = (ev: PendingEvent, err: unknown) =>
      this.logError(`could not record the event ${ev.kind} (the activity log and the traffic chart will miss it): ${(err as Error).message}`)
    let written = 0
    try {
      const log = this.log()
      const sqlite = this.open!.db.$client
      sqlite.transaction(() => {
        for (const ev of batch) {
          try {
            sqlite.transaction(() => log.record(ev.kind, ev.data, ev.at))()
            written++
          } catch (err) {
            lost(ev, err)
          }
        }
      })()
    } catch (err) {
      for (const ev of batch) lost(ev, err)
      return 0
    }
    return written
  }

  private log(): EventLog {
    const path = this.dbPath()
    if (this.open?.path === path) return this.open.log
    this.open?.db.$client.close()
    this.open = undefined
    const db = openDb(path, { migrate: false })
    db.$client.pragma(`busy_timeout = ${EVENT_BUSY_TIMEOUT_MS}`)
    this.open = { path, db, log: new EventLog(db) }
    return this.open.log
  }
}
