// Local delivery of many messages at once, for import: the same ledger and
// the same per-recipient answers as deliver.ts, but the ledger is written
// once per batch on each side of Dovecot and every message of the batch
// goes over one LMTP session that stays open from batch to batch.
//
// Exactly-once rests on the same two writes as a single delivery:
//   1. before Dovecot sees any message of the batch, a `pending` row for
//      each (message, recipient) is committed (synchronous=FULL: on disk);
//   2. after the LMTP answers, each recipient with a 250 is marked
//      `delivered` in one commit.
// A crash between the two (kill -9 after some messages were stored) leaves
// pending rows; the next attempt reads each such mailbox once, marks what it
// finds there (our trace header carries the key) as delivered, and delivers
// only the rest. So a message is delivered again only when neither the
// ledger nor the mailbox has it.
import { and, eq, inArray, or } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { deliveries } from '../db/schema.js'
import { crashPoint } from '../base/crash-point.js'
import { hopMark } from '../base/hop-trace.js'
import { LmtpError, LmtpSession, type LmtpRecipientResult, type LmtpTarget } from './lmtp.js'
import { DELIVERY_HEADER, mailboxDeliveries, provedAbsent, verdictOf, type DeliveryOutcome } from './deliver.js'
import { BulkStoreError, type BulkStore } from './bulk-store.js'
import { ledgerWrites } from './ledger-writer.js'

export interface BatchMessage {
  /** The ledger key: the id the message carries across nodes. */
  key: string
  sender: string
  recipients: readonly string[]
  message: Buffer
}

export interface BatchDeliveryOptions {
  db: Db
  lmtp: LmtpTarget
  /** The node's mail dir (mail/<domain>/<user>/Maildir); settles rows a crash left pending. */
  mailDir?: string
  /**
   * Stores a recipient's many messages at once (delivery/bulk-store.ts);
   * without it, or for a recipient with few, every message goes over LMTP.
   */
  bulk?: BulkStore
  now?: () => number
}

/**
 * A recipient with at least this many messages in a batch gets them in one
 * bulk store. Below it, starting `doveadm` costs more than LMTP's
 * transactions (about 60 ms against 2.5 ms of CPU a message).
 */
export const BULK_MIN = 24

/** Bulk stores run at once: each is a `doveadm` process busy on one core. */
const BULK_PARALLEL = 3

/** SQLite's limit on bound parameters is far above this; it keeps each statement small. */
const IN_CHUNK = 400

function* slices<T>(xs: readonly T[], n: number): Generator<T[]> {
  for (let i = 0; i < xs.length; i += n) yield xs.slice(i, i + n)
}

const rowId = (key: string, recipient: string) => `${key}\n${recipient}`

/**
 * LMTP sessions a batch is spread over. Dovecot fsyncs each message it
 * stores; with several sessions its processes do that for several
 * mailboxes at once, and the file system commits their journal writes
 * together. Each session is one of delivery/lmtp.ts's LMTP_SESSIONS.
 */
export const IMPORT_LANES = 4

/** The lane of a recipient: the same mailbox always goes over the same session. */
export function laneOf(recipient: string, lanes = IMPORT_LANES): number {
  let h = 0
  for (let i = 0; i < recipient.length; i++) h = (h * 31 + recipient.charCodeAt(i)) >>> 0
  return h % lanes
}

/**
 * Delivers batches of messages over one LMTP session. `deliver` returns one
 * outcome per message, in order, as deliver() would for each; `close` ends
 * the session. A session that breaks (Dovecot stopped) is opened again for
 * the next batch; the messages of the broken batch that were not answered
 * come back as `retry`.
 */
export class BatchDelivery {
  private readonly lanes: (LmtpSession | undefined)[] = Array.from({ length: IMPORT_LANES })
  private readonly now: () => number

  constructor(private readonly opts: BatchDeliveryOptions) {
    this.now = opts.now ?? Date.now
  }

  async deliver(batch: readonly BatchMessage[]): Promise<DeliveryOutcome[]> {
    const { db } = this.opts
    const items = batch.map((m) => ({ ...m, recipients: [...new Set(m.recipients.map((r) => r.toLowerCase()))] }))
    const known = this.settledRows(items)

    const outcomes: (DeliveryOutcome | undefined)[] = items.map((m) => {
      const had = m.recipients.filter((r) => known.has(rowId(m.key, r)))
      if (had.length < m.recipients.length) return undefined
      return { verdict: 'delivered', text: '2.0.0 Message delivered (all recipients already had it)', messageKey: m.key, alreadyDelivered: had, results: [] }
    })
    const todo = items.map((m, i) => ({ m, i, missing: m.recipients.filter((r) => !known.has(rowId(m.key, r))) })).filter((t) => outcomes[t.i] === undefined)
    const alreadyOf = (m: (typeof items)[number]) => m.recipients.filter((r) => known.has(rowId(m.key, r)))

    if (todo.length > 0) {
      // Written (and, with synchronous=FULL, on disk) before Dovecot sees
      // any message of the batch: after a crash, the rows say which
      // mailboxes to look into.
      const started = this.now()
      const { pending } = ledgerWrites(db)
      db.transaction(() => {
        for (const t of todo) for (const r of t.missing) pending.run({ key: t.m.key, recipient: r, at: started })
      })
      hopMark('deliver.pending')

      type Todo = (typeof todo)[number]
      /** Each message's answers so far (LMTP's, or a bulk store's), by its index in the batch. */
      const answers = new Map<number, LmtpRecipientResult[]>()
      const answer = (t: Todo, results: readonly LmtpRecipientResult[]) => {
        const had = answers.get(t.i)
        if (had) had.push(...results)
        else answers.set(t.i, [...results])
      }
      const saved = (recipient: string): LmtpRecipientResult => ({ recipient, code: 250, enhanced: '2.0.0', text: 'Saved by doveadm import', afterData: true })
      /** Rows nobody can have: the message never went out (or was refused before it did). */
      const absent: { key: string; recipients: string[] }[] = []
      let broken = null as LmtpError | null

      // A recipient with many messages in the batch gets them in one bulk
      // store; the rest go over LMTP. Bulk needs the mail dir, to find out
      // what a failed store left in the mailbox.
      const { bulk, mailDir } = this.opts
      const perRecipient = new Map<string, Todo[]>()
      if (bulk && mailDir) {
        for (const t of todo) {
          for (const r of t.missing) {
            const list = perRecipient.get(r)
            if (list) list.push(t)
            else perRecipient.set(r, [t])
          }
        }
        for (const [r, list] of perRecipient) if (list.length < BULK_MIN) perRecipient.delete(r)
      }
      const viaLmtp = todo.flatMap((t) => {
        const recipients = t.missing.filter((r) => !perRecipient.has(r))
        return recipients.length > 0 ? [{ t, recipients }] : []
      })
      /** A failed bulk store's messages that its mailbox does not have: they go over LMTP after it. */
      const fallback: typeof viaLmtp = []

      // The LMTP part goes over IMPORT_LANES sessions at once, each message
      // to the lane of its first recipient: Dovecot stores (and fsyncs) for
      // several mailboxes at a time, while one mailbox's mail still arrives
      // in the bundle's order over one session.
      const overLmtp = async (items: typeof viaLmtp) => {
        const lanes = new Map<number, typeof viaLmtp>()
        for (const item of items) {
          const lane = laneOf(item.recipients[0] ?? '', this.lanes.length)
          const list = lanes.get(lane)
          if (list) list.push(item)
          else lanes.set(lane, [item])
        }
        await Promise.all(
          [...lanes].map(async ([lane, list]) => {
            for (const { t, recipients } of list) {
              if (broken) {
                absent.push({ key: t.m.key, recipients })
                continue
              }
              try {
                const session = (this.lanes[lane] ??= await LmtpSession.open(this.opts.lmtp))
                const traced = Buffer.concat([Buffer.from(`${DELIVERY_HEADER}: ${t.m.key}\r\n`, 'latin1'), t.m.message])
                answer(t, await session.deliver({ sender: t.m.sender, recipients }, traced))
              } catch (err) {
                if (!(err instanceof LmtpError)) throw err
                broken ??= err
                await this.dropSession(lane)
                // Broken before this message went out: nobody has it. Broken
                // after: for some recipients Dovecot may have stored it, so the
                // pending rows stay and the retry looks into those mailboxes first.
                if (!err.afterData) absent.push({ key: t.m.key, recipients })
              }
            }
          }),
        )
      }
      const inBulk = async () => {
        const queue = [...perRecipient]
        const worker = async () => {
          for (let next = queue.shift(); next; next = queue.shift()) {
            const [recipient, list] = next
            const before = this.now()
            let untried = false
            try {
              await bulk!.store(recipient, list.map((t) => ({ key: t.m.key, sender: t.m.sender, message: t.m.message })))
            } catch (err) {
              untried = err instanceof BulkStoreError && err.untried
            }
            // Whatever the store said (doveadm import exits 0 even when it
            // could not read its source), a message counts as delivered only
            // when the mailbox has it; LMTP answers for each of the rest (a
            // refusal per message, such as a full quota).
            // Dovecot dates a file by whole seconds, and the kernel's file
            // clock may trail ours by a tick: 3 s of margin take both in.
            const have = untried ? new Set<string>() : mailboxDeliveries(mailDir!, recipient, before, 3000)
            for (const t of list) {
              if (have.has(t.m.key)) answer(t, [saved(recipient)])
              else fallback.push({ t, recipients: [recipient] })
            }
          }
        }
        await Promise.all(Array.from({ length: Math.min(BULK_PARALLEL, queue.length) }, worker))
      }
      await Promise.all([overLmtp(viaLmtp), inBulk()])
      if (fallback.length > 0) await overLmtp(fallback)

      // Dovecot has them, the ledger says pending: the window a crash may
      // hit (once per batch, so a test that kills after every write step in
      // turn also reaches the steps after this one).
      hopMark('deliver.lmtp')
      crashPoint('deliver.stored')
      const at = this.now()
      const { delivered } = ledgerWrites(db)
      db.transaction((tx) => {
        for (const t of todo) {
          const results = answers.get(t.i) ?? []
          for (const r of results) if (r.code >= 200 && r.code < 300) delivered.run({ key: t.m.key, recipient: r.recipient, at })
          const gone = provedAbsent(results)
          if (gone.length > 0) absent.push({ key: t.m.key, recipients: gone })
        }
        for (const a of absent) {
          tx.delete(deliveries).where(and(eq(deliveries.messageKey, a.key), inArray(deliveries.recipient, a.recipients), eq(deliveries.state, 'pending'))).run()
        }
      })
      hopMark('deliver.recorded')
      for (const t of todo) {
        const results = answers.get(t.i) ?? []
        const had = alreadyOf(t.m)
        if (results.length === t.missing.length) {
          outcomes[t.i] = { ...verdictOf(results, had.length, t.m.recipients.length), messageKey: t.m.key, alreadyDelivered: had, results }
        } else {
          // Not answered for every recipient: the session broke before or
          // while this message went out. A retry goes only to the rest.
          outcomes[t.i] = { verdict: 'retry', text: `4.4.2 Local delivery is unavailable, please try again later: ${broken?.message ?? 'the LMTP session broke'}`, messageKey: t.m.key, alreadyDelivered: had, results }
        }
      }
    } else crashPoint('deliver.stored')
    return outcomes as DeliveryOutcome[]
  }

  /**
   * The (key, recipient) pairs the ledger has as delivered, after settling
   * the pending rows an earlier, crashed attempt left: each mailbox named in
   * one is read once, for all of its pending rows.
   */
  private settledRows(items: readonly BatchMessage[]): Set<string> {
    const { db, mailDir } = this.opts
    const rows: { key: string; recipient: string; state: string; at: number }[] = []
    for (const part of slices([...new Set(items.map((m) => m.key))], IN_CHUNK)) {
      rows.push(
        ...db
          .select({ key: deliveries.messageKey, recipient: deliveries.recipient, state: deliveries.state, at: deliveries.deliveredAt })
          .from(deliveries)
          .where(inArray(deliveries.messageKey, part))
          .all(),
      )
    }
    const wanted = new Set(items.flatMap((m) => m.recipients.map((r) => rowId(m.key, r.toLowerCase()))))
    const mine = rows.filter((r) => wanted.has(rowId(r.key, r.recipient)))
    const pending = mine.filter((r) => r.state === 'pending')
    if (pending.length > 0 && mailDir) {
      const byRecipient = new Map<string, typeof pending>()
      for (const r of pending) {
        const list = byRecipient.get(r.recipient)
        if (list) list.push(r)
        else byRecipient.set(r.recipient, [r])
      }
      const found: typeof pending = []
      for (const [recipient, rs] of byRecipient) {
        const inMailbox = mailboxDeliveries(mailDir, recipient, Math.min(...rs.map((r) => r.at)))
        for (const r of rs) if (inMailbox.has(r.key)) found.push(r)
      }
      if (found.length > 0) {
        db.transaction((tx) => {
          for (const part of slices(found, IN_CHUNK)) {
            tx.update(deliveries)
              .set({ state: 'delivered' })
              .where(or(...part.map((r) => and(eq(deliveries.messageKey, r.key), eq(deliveries.recipient, r.recipient)))))
              .run()
          }
        })
        for (const r of found) r.state = 'delivered'
      }
    }
    return new Set(mine.filter((r) => r.state === 'delivered').map((r) => rowId(r.key, r.recipient)))
  }

  private async dropSession(lane: number): Promise<void> {
    const s = this.lanes[lane]
    this.lanes[lane] = undefined
    await s?.close()
  }

  /** Ends the LMTP sessions (QUIT) that are open. */
  async close(): Promise<void> {
    await Promise.all(this.lanes.map((_, lane) => this.dropSession(lane)))
  }
}
