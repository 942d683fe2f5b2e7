// When a waiting message goes out again, by carrier.
//
// Nothing here ever drops a message: a row leaves the outbox only when its
// peer acknowledges it (outbox.ts). The policy only decides whether an
// export run writes a message that already left once and is not acked yet.
//
// - A store carrier (a folder, a USB stick, Syncthing, Filespooler) writes
//   everything unacknowledged on every run. The stick in hand may not be the
//   one that carried the last copy, and a copy there costs about 45 bytes
//   after compression.
// - An online or narrow carrier (HTTP, NNCP, the radio to come) sends a
//   message once, then again only when its retransmit timeout has passed
//   since it last left by an online carrier. The timeout starts at the
//   carrier's expected round trip (the bundle out and the ack back on the
//   next exchange) and doubles with every try, up to a cap, as TCP's RTO
//   does: a peer that is away for days is not sent the same mail every few
//   minutes, and one that is back gets it again within the cap.
//
// Each departure stores when an online carrier may send the message again
// (the outbox's due_at), so "what is due" is an index seek, not a walk
// through every waiting row. A retry from the web admin (Outbox.resend)
// sets due_at to 0: due at once under every policy.

export type ResendPolicy =
  | { kind: 'every-run' }
  | {
      kind: 'backoff'
      /** The first retransmit timeout: the carrier's expected round trip. */
      baseMs: number
      /** The timeout never grows past this. */
      maxMs: number
    }

const MINUTE = 60 * 1000
const HOUR = 60 * MINUTE

/** Every run writes all that waits: the medium in hand may not hold the last copy. */
export const EVERY_RUN: ResendPolicy = { kind: 'every-run' }

/**
 * The backoff of each online or narrow carrier. The bases are the round trip
 * such a carrier is set up for: HTTP runs on `event` and an ack comes back
 * within minutes while the peer is reachable (the same 10 minutes the
 * scheduler always waited); NNCP's calls and tosses run on schedules of
 * minutes to hours; a LoRa link moves a bundle in tens of minutes.
 */
export const ONLINE_POLICIES: Readonly<Record<string, ResendPolicy>> = {
  http: { kind: 'backoff', baseMs: 10 * MINUTE, maxMs: 12 * HOUR },
  nncp: { kind: 'backoff', baseMs: HOUR, maxMs: 48 * HOUR },
  lora: { kind: 'backoff', baseMs: 30 * MINUTE, maxMs: 48 * HOUR },
}

/**
 * The policy of a carrier by its kind (as transports and events name it).
 * A kind not listed is treated as a store carrier: writing a copy too many
 * is the safe mistake.
 */
export function resendPolicyFor(via: string): ResendPolicy {
  return ONLINE_POLICIES[via] ?? EVERY_RUN
}

/** The longest shift applied: base · 2^30 is already decades for any base above a millisecond. */
const MAX_DOUBLINGS = 30

/** The retransmit timeout after `tries` departures (1: the first copy left). */
export function retransmitTimeout(policy: Extract<ResendPolicy, { kind: 'backoff' }>, tries: number): number {
  const doublings = Math.min(Math.max(tries - 1, 0), MAX_DOUBLINGS)
  return Math.min(policy.baseMs * 2 ** doublings, policy.maxMs)
}

/**
 * When an online carrier may send a message again that just left by `via`
 * for the `tries`-th time (any carrier's departures count as tries); null
 * when a store carrier took it: a copy on a stick in a drawer does not hold
 * an online carrier back, which sends the message once at its next run.
 */
export function nextDueAt(via: string, tries: number, now: number): number | null {
  const p = resendPolicyFor(via)
  return p.kind === 'backoff' ? now + retransmitTimeout(p, tries) : null
}

/**
 * How long an `event` transport waits after any departure before it runs
 * for the same peer again: without it, a store carrier on `event` (whose
 * departures leave the message due) would run every time the scheduler looks.
 */
export const EVENT_HOLD_MS = 10 * MINUTE

/** Whether an export run under `policy` at `now` writes a message due at `dueAt` (0: never left, or a retry). */
export function isDue(policy: ResendPolicy, dueAt: number, now: number): boolean {
  return policy.kind === 'every-run' || dueAt <= now
}

/**
 * `isDue` as an SQL condition on the outbox's columns, with its parameters,
 * so that a run asks SQLite for the due rows instead of reading them all.
 */
export function dueCondition(policy: ResendPolicy, now: number): { sql: string; params: number[] } {
  if (policy.kind === 'every-run') return { sql: '1', params: [] }
  return { sql: 'due_at <= ?', params: [now] }
}

/**
 * The SQL expression for the new due_at after a departure by `via`, on a row
 * whose `exports` column still holds the count before it: as `nextDueAt`,
 * with the shift capped as in `retransmitTimeout` (a unit test holds both
 * to agree), and due_at unchanged after a store carrier.
 */
export function nextDueSql(via: string, now: number): { sql: string; params: number[] } {
  const p = resendPolicyFor(via)
  if (p.kind === 'every-run') return { sql: 'due_at', params: [] }
  return { sql: `? + min(? << min(exports, ${MAX_DOUBLINGS}), ?)`, params: [now, p.baseMs, p.maxMs] }
}
