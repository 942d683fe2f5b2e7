// What a classic carrier (classic-nncp.ts, classic-fspl.ts) hands to the
// peer's MTA: the mail waiting for that peer, oldest first, cut into batch
// SMTP batches of at most `perBatch` messages and about 16 MiB.
import { writeBsmtp, type BsmtpMessage } from '../bundle/bsmtp.js'
import type { Outbox } from '../outbox/outbox.js'
import { sendBands, WIDE, type LinkWidth } from '../outbox/link-width.js'

/** A batch is read whole by `exim -bS`; 16 MiB is what a bundle holds too. One message larger than this goes alone. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024

export interface ClassicBatch {
  /** The outbox ids of the batch's messages: they leave the outbox once the carrier has taken the batch. */
  ids: string[]
  /** The batch, in the classic dialect (no X-Outpost-Id line). */
  bytes: Buffer
}

/**
 * The peer's waiting mail as classic batches, each read from the spool only
 * when its turn comes. On a narrow carrier (link-width.ts) only what it
 * takes, chat-sized first; what is larger stays for a wider carrier.
 */
export function* classicBatches(outbox: Outbox, peer: string, perBatch: number, link: LinkWidth = WIDE): Generator<ClassicBatch> {
  const all = outbox.waiting(peer)
  const waiting = sendBands(link).flatMap((b) => all.filter((row) => row.size > b.minBytes && row.size <= b.maxBytes))
  for (let i = 0; i < waiting.length; ) {
    const batch: BsmtpMessage[] = []
    let size = 0
    while (i < waiting.length && batch.length < perBatch) {
      const row = waiting[i]!
      if (batch.length && size + row.size > MAX_BATCH_BYTES) break
      batch.push({ sender: row.sender, recipients: row.recipients, data: outbox.read(row.messageId), id: row.messageId })
      size += row.size
      i++
    }
    yield { ids: batch.map((m) => m.id), bytes: writeBsmtp(batch, { dialect: 'classic' }) }
  }
}
