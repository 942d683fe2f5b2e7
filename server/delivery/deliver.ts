// The queue step: hand an accepted message to Dovecot over LMTP, once per
// recipient, and decide what the submitting client is told.
//
// The 250 this step lets Haraka send is the moment the message becomes ours:
// before it the client keeps the message and retries; after it only Dovecot
// and the ledger stand between the message and loss. So 250 is given only
// when every recipient's mailbox has the message.
//
// The ledger's 'pending' row is on disk before Dovecot sees the message;
// the 'delivered' mark may follow the 250 (with a LedgerWriter it does): a
// pending row whose mailbox holds our X-Outpost-Delivery key is settled as
// delivered by the client's retry, so a crash in between stores nothing twice.
import { openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { and, eq, inArray, sql } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { preparedPerDb } from '../db/prepared.js'
import { deliveries } from '../db/schema.js'
import { LmtpError, lmtpDeliver, type LmtpRecipientResult, type LmtpTarget } from './lmtp.js'
import { messageKey } from '../bundle/message-id.js'
import type { LedgerWriter } from './ledger-writer.js'
import { crashPoint } from '../base/crash-point.js'

export type Verdict =
  /** Every recipient has it: answer OK (250). */
  | 'delivered'
  /** At least one recipient failed temporarily: answer DENYSOFT (4xx) so the client retries. */
  | 'retry'
  /** Every failure was permanent: answer DENY (5xx). */
  | 'rejected'

export interface DeliveryOutcome {
  verdict: Verdict
  /** Enhanced status code and text for the client's reply. */
  text: string
  messageKey: string
  /** Recipients the ledger already had from an earlier attempt. */
  alreadyDelivered: string[]
  /** Results of this attempt's LMTP transaction. */
  results: LmtpRecipientResult[]
}

export interface DeliveryInput {
  db: Db
  lmtp: LmtpTarget
  sender: string
  recipients: readonly string[]
  message: Buffer
  /** The node's mail dir (mail/<domain>/<user>/Maildir); settles rows a crash left pending. */
  mailDir?: string
  now?: () => number
  /**
   * The message's stable id when it came with one (a bundle carries it);
   * otherwise the key is computed from the message here.
   */
  key?: string
  /** Ledger rows older than this are not a retry of this message (default: no bound). */
  retryWindowMs?: number
  /**
   * Groups the ledger writes of concurrent deliveries (SMTP sessions of one
   * process): the pending rows in one commit per turn, the delivered
   * updates after the answer. Without it every write is its own commit.
   */
  ledger?: LedgerWriter
  /** Called as each step ends, for the benchmark's breakdown (see haraka/lib/accept-trace.ts). */
  onStep?: (step: DeliveryStep) => void
}

/** The steps of one delivery, in order: the ledger read, the pending rows on disk, Dovecot's answers, the delivered rows. */
export type DeliveryStep = 'ledgerRead' | 'pending' | 'lmtp' | 'delivered'

/** The trace header that lets a crashed attempt's outcome be read back from the mailbox. */
export const DELIVERY_HEADER = 'X-Outpost-Delivery'

/**
 * Whether the recipient's Maildir holds a message stored by the attempt that
 * wrote `key`. Only files at most a little older than the attempt are read,
 * and only their first 4 KiB (our header is prepended, so it is the first
 * line of what we sent).
 */
export function mailboxHasDelivery(mailDir: string, recipient: string, key: string, since: number): boolean {
  return mailboxDeliveries(mailDir, recipient, since).has(key)
}

/** The recipient's Maildir in the node's mail dir (mail/<domain>/<user>/Maildir), as the userdb places it. */
export function maildirOf(mailDir: string, recipient: string): string {
  const at = recipient.lastIndexOf('@')
  return join(mailDir, recipient.slice(at + 1), recipient.slice(0, at), 'Maildir')
}

/**
 * The delivery keys (our trace header) of the messages in the recipient's
 * Maildir stored at `since` or later (less a few seconds for clocks and
 * file systems), read in one pass: a crashed import may leave hundreds of
 * pending rows for one mailbox, and a large mailbox must be read once for
 * all of them, not once per row. Dovecot names a file after the second it
 * stored it, so most older files are passed over by name, without a stat.
 */
export function mailboxDeliveries(mailDir: string, recipient: string, since: number, margin = 5000): Set<string> {
  const base = maildirOf(mailDir, recipient)
  const prefix = `${DELIVERY_HEADER}: `
  const found = new Set<string>()
  const buf = Buffer.alloc(4096)
  for (const sub of ['new', 'cur']) {
    let names: string[]
    try {
      names = readdirSync(join(base, sub))
    } catch {
      continue
    }
    for (const name of names) {
      const named = /^(\d+)\./.exec(name)
      if (named && (Number(named[1]) + 1) * 1000 < since - margin) continue
      const file = join(base, sub, name)
      try {
        if (statSync(file).mtimeMs < since - margin) continue
        const fd = openSync(file, 'r')
        try {
          const head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('latin1')
          const i = head.indexOf(prefix)
          if (i !== -1) found.add(head.slice(i + prefix.length, head.indexOf('\n', i) === -1 ? undefined : head.indexOf('\n', i)).trim())
        } finally {
          closeSync(fd)
        }
      } catch {
        // Moved or expunged meanwhile: not the file we look for.
      }
    }
  }
  return found
}

/**
 * How long a key counts as the same message retried by its client. A
 * client retries within minutes or hours (RFC 5321 §4.5.4.1 suggests giving
 * up after 4-5 days, but phones and scripts give up far sooner); a message
 * with the same key after this is sent again on purpose, and is stored
 * again. Exactly-once across nodes does not rest on this window: bundles
 * are deduplicated by their carried id in seen_messages, without a bound.
 */
export const CLIENT_RETRY_WINDOW_MS = 24 * 60 * 60 * 1000

const isSuccess = (r: LmtpRecipientResult) => r.code >= 200 && r.code < 300
const isTemporary = (r: LmtpRecipientResult) => r.code >= 400 && r.code < 500

function describe(r: LmtpRecipientResult): string {
  return `<${r.recipient}>: ${r.code} ${r.enhanced ? `${r.enhanced} ` : ''}${r.text}`.trim()
}

/**
 * The ledger's rows for a key, prepared once per database: every accepted
 * message reads them. A key has a row per recipient it was delivered to, so
 * the recipients are picked out by the caller.
 */
const ledgerRead = preparedPerDb((db) =>
  db
    .select({ recipient: deliveries.recipient, state: deliveries.state, at: deliveries.deliveredAt })
    .from(deliveries)
    .where(eq(deliveries.messageKey, sql.placeholder('key')))
    .prepare(),
)

export async function deliver(input: DeliveryInput): Promise<DeliveryOutcome> {
  const now = input.now ?? Date.now
  const recipients = [...new Set(input.recipients.map((r) => r.toLowerCase()))]
  const key = input.key ?? messageKey(input.message, input.sender)
  const oldest = input.retryWindowMs === undefined ? -Infinity : now() - input.retryWindowMs

  // What this process already knows about the key is committed before it is read.
  input.ledger?.settle(key)
  // Rows outside the retry window are an earlier message that happens to
  // have the same key: this one is delivered (the row is taken over below).
  const rows = ledgerRead(input.db)
    .all({ key })
    .filter((r) => r.at >= oldest && recipients.includes(r.recipient))
  // A pending row means an earlier attempt died between handing the message
  // to Dovecot and hearing back: the mailbox itself says whether it arrived.
  for (const row of rows.filter((r) => r.state === 'pending')) {
    if (input.mailDir && mailboxHasDelivery(input.mailDir, row.recipient, key, row.at)) {
      input.db.update(deliveries).set({ state: 'delivered' }).where(and(eq(deliveries.messageKey, key), eq(deliveries.recipient, row.recipient))).run()
      row.state = 'delivered'
    }
  }
  input.onStep?.('ledgerRead')
  const known = rows.filter((r) => r.state === 'delivered').map((r) => r.recipient)
  const already = new Set(known)
  const missing = recipients.filter((r) => !already.has(r))
  const outcome = (verdict: Verdict, text: string, results: LmtpRecipientResult[] = []): DeliveryOutcome => ({
    verdict,
    text,
    messageKey: key,
    alreadyDelivered: known,
    results,
  })

  if (missing.length === 0) return outcome('delivered', '2.0.0 Message delivered (all recipients already had it)')

  // Written (and, with synchronous=FULL, on disk) before Dovecot sees the
  // message: after a crash, the row says which mailboxes to look into.
  const started = now()
  if (input.ledger) {
    await input.ledger.pending({ messageKey: key, recipients: missing, at: started })
  } else {
    input.db
      .insert(deliveries)
      .values(missing.map((r) => ({ messageKey: key, recipient: r, deliveredAt: started, state: 'pending' as const })))
      .onConflictDoUpdate({ target: [deliveries.messageKey, deliveries.recipient], set: { deliveredAt: started, state: 'pending' } })
      .run()
  }
  input.onStep?.('pending')
  const forget = (who: string[]) => {
    if (who.length > 0) input.db.delete(deliveries).where(and(eq(deliveries.messageKey, key), inArray(deliveries.recipient, who), eq(deliveries.state, 'pending'))).run()
  }

  let results: LmtpRecipientResult[]
  try {
    const traced = Buffer.concat([Buffer.from(`${DELIVERY_HEADER}: ${key}\r\n`, 'latin1'), input.message])
    results = await lmtpDeliver(input.lmtp, { sender: input.sender, recipients: missing }, traced)
    input.onStep?.('lmtp')
  } catch (err) {
    if (!(err instanceof LmtpError)) throw err
    // Broken before the message went out: nobody has it. Broken after: for
    // some recipients Dovecot may have stored it, so the pending rows stay
    // and the retry looks into those mailboxes first.
    if (!err.afterData) forget(missing)
    return outcome('retry', `4.4.2 Local delivery is unavailable, please try again later: ${err.message}`)
  }

  const delivered = results.filter(isSuccess)
  // Dovecot has it, the ledger does not know yet and the client has no answer.
  if (delivered.length > 0) crashPoint('deliver.stored')
  if (input.ledger) {
    // Not awaited: a pending row plus our header in the mailbox settles a crash before it is written.
    input.ledger.delivered({ messageKey: key, recipients: delivered.map((r) => r.recipient), at: now() })
  } else if (delivered.length > 0) {
    input.db
      .update(deliveries)
      .set({ state: 'delivered', deliveredAt: now() })
      .where(and(eq(deliveries.messageKey, key), inArray(deliveries.recipient, delivered.map((r) => r.recipient))))
      .run()
  }
  input.onStep?.('delivered')
  forget(provedAbsent(results))

  return { ...verdictOf(results, known.length, recipients.length), messageKey: key, alreadyDelivered: known, results }
}

/**
 * What the client is told for one message, from this attempt's answers and
 * how many recipients the ledger already had: 250 only when every one has
 * it; a retry when any failure is temporary; otherwise a refusal.
 */
export function verdictOf(results: LmtpRecipientResult[], alreadyHad: number, recipients: number): { verdict: Verdict; text: string } {
  const delivered = results.filter(isSuccess)
  const failed = results.filter((r) => !isSuccess(r))
  if (failed.length === 0) return { verdict: 'delivered', text: '2.0.0 Message delivered' }
  const detail = failed.map(describe).join('; ')
  const some = delivered.length + alreadyHad > 0 ? ` (${delivered.length + alreadyHad} of ${recipients} recipients have it)` : ''
  if (failed.some(isTemporary) || failed.some((r) => r.code < 400 || r.code >= 600)) {
    return { verdict: 'retry', text: `4.2.0 Delivery deferred${some}; a retry goes only to the rest: ${detail}` }
  }
  const enhanced = failed.find((r) => r.enhanced)?.enhanced ?? '5.0.0'
  return { verdict: 'rejected', text: `${enhanced} Delivery failed${some}: ${detail}` }
}

/**
 * Rows to forget after an attempt: a refusal before the message went out
 * proves nobody has it. A temporary failure answered to the message itself
 * does not: Dovecot may have put the file in place and then failed (a
 * shutdown in the middle of its commit), so the row stays pending and the
 * retry looks in the mailbox before it delivers again. A permanent failure
 * is not retried.
 */
export function provedAbsent(results: LmtpRecipientResult[]): string[] {
  return results.filter((r) => !isSuccess(r) && !(r.afterData && isTemporary(r))).map((r) => r.recipient)
}
