// `outpost queue`: what waits per peer (counts and sums from SQL), then
// each peer's oldest messages, a page at a time. A long queue prints what
// was asked for and says how to get the next page; `--all` walks every
// page, holding one page in memory at a time.
import type { Db } from '../db/index.js'
import { peerHolds, peerTotals, queuePage, walkQueue, type PeerTotals, type QueueItem } from '../outbox/queue-query.js'
import { holdFor, peerHoldNote, type CarrierWidth } from '../outbox/link-width.js'
import { formatAge, formatBytes } from './progress.js'

export interface QueueViewOptions {
  peer?: string
  after?: string
  /** Messages per peer; by default 10 for every peer, 100 for one peer. */
  limit?: number
  all?: boolean
  now?: number
  /** The carriers of a peer and how wide each is, to say which messages narrow ones hold and why; without it none are shown held. */
  widths?: (peer: string) => CarrierWidth[]
}

function heading(t: PeerTotals, now: number): string {
  return `${t.peer}: ${t.messages} messages (${formatBytes(t.bytes)}), oldest ${formatAge(now - t.oldestAt)}`
}

function line(e: QueueItem, now: number, carriers: CarrierWidth[]): string {
  const hold = holdFor(e.peer, e.size, carriers)
  const flight = e.exports
    ? `exported ${e.exports}× (last ${e.lastExportAt ? `${formatAge(now - e.lastExportAt)} ago` : 'marked to go again'}${e.lastVia ? ` by ${e.lastVia}` : ''}, bundle ${e.lastBundleId?.slice(0, 8)})`
    : 'not exported yet'
  return `  ${e.messageId.slice(0, 12)}  ${formatAge(now - e.queuedAt).padStart(4)}  ${formatBytes(e.size).padStart(9)}  ${e.sender} → ${e.recipients.join(', ')}  ${flight}${hold ? `; ${hold.reason}` : ''}`
}

/** Writes the queue view through `out`, a line at a time. */
export function printQueue(db: Db, o: QueueViewOptions, out: (line: string) => void = (l) => console.log(l)): void {
  const now = o.now ?? Date.now()
  const totals = peerTotals(db).filter((t) => o.peer === undefined || t.peer === o.peer)
  if (!totals.length) {
    out(o.peer === undefined ? 'the outbox is empty: nothing waits for a peer' : `nothing waits for ${o.peer}`)
    return
  }
  for (const t of totals) {
    const carriers = o.widths?.(t.peer) ?? []
    out(heading(t, now))
    const note = peerHoldNote(t.peer, peerHolds(db, t.peer, carriers), carriers)
    if (note) out(`  ${note}`)
    if (o.all) {
      for (const e of walkQueue(db, { peer: t.peer })) out(line(e, now, carriers))
      continue
    }
    const page = queuePage(db, { peer: t.peer, after: o.after, limit: o.limit ?? (o.peer === undefined ? 10 : 100) })
    for (const e of page.items) out(line(e, now, carriers))
    if (page.next) out(`  … more: outpost queue --peer ${t.peer} --after ${page.next}  (or --all)`)
  }
}
