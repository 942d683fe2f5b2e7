// Transports as stored: which carriers reach which peer, on what schedule,
// and how their runs went. Shared by the CLI, the scheduler and the web admin.
import { and, desc, eq } from 'drizzle-orm'
import cron from 'node-cron'
import type { Db } from '../db/index.js'
import { transportRuns, transports } from '../db/schema.js'
import { driverFor, driverKinds } from './registry.js'
import { TransportConfigError, linkWidth, withoutLinkKeys } from './transport.js'
import type { CarrierWidth } from '../outbox/link-width.js'

export interface TransportInfo {
  id: number
  peer: string
  kind: string
  config: Record<string, string>
  schedule: string
  enabled: boolean
  createdAt: number
}

export interface RunInfo {
  id: number
  transportId: number
  startedAt: number
  finishedAt: number | null
  ok: boolean | null
  error: string | null
  bytesOut: number
  bytesIn: number
  detail: string | null
}

export const EVENT_SCHEDULE = 'event'

/** What the web admin shows instead of a secret setting. */
export const SECRET_MASK = '••••'
// Also by name: a setting a driver forgot to mark stays hidden all the same.
const SECRET_NAME = /pass|secret|token|key$|apikey|api_key/i

/** A URL's password (https://user:PASSWORD@host/) masked; anything else as it is. */
function maskUrlPassword(v: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(v)) return v
  try {
    const u = new URL(v)
    if (!u.password) return v
    u.password = SECRET_MASK
    return decodeURIComponent(u.toString())
  } catch {
    return SECRET_MASK
  }
}

/** A transport's settings as shown to a person: passwords and API keys masked. */
export function maskSecrets(kind: string, config: Record<string, string>): Record<string, string> {
  const keys = driverFor(kind)?.configKeys ?? {}
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, keys[k]?.secret || SECRET_NAME.test(k) ? SECRET_MASK : maskUrlPassword(v)]))
}

export function checkSchedule(schedule: string): void {
  if (schedule === EVENT_SCHEDULE) return
  if (!cron.validate(schedule)) throw new TransportConfigError(`"${schedule}" is not a cron expression (five or six fields, e.g. "*/5 * * * *" for every five minutes), nor "${EVENT_SCHEDULE}"`)
}

/** When a schedule fires next (none for `event`, which runs whenever mail waits). */
export function nextRuns(schedule: string, count = 1): Date[] {
  if (schedule === EVENT_SCHEDULE) return []
  const task = cron.createTask(schedule, () => undefined)
  try {
    return task.getNextRuns(count)
  } finally {
    void task.destroy()
  }
}

/** A transport as the web admin shows it (and the CLI's list reads it). */
export interface TransportOverview {
  id: number
  peer: string
  kind: string
  schedule: string
  enabled: boolean
  /** Settings with passwords and API keys masked. */
  options: Record<string, string>
  lastRun: RunInfo | null
  /** The next times the schedule fires (none for `event`). */
  nextRuns: number[]
}

export class TransportService {
  constructor(
    private readonly db: Db,
    private readonly peerExists: (name: string) => boolean,
  ) {}

  add(peer: string, kind: string, raw: Record<string, string>, schedule?: string): TransportInfo {
    if (!this.peerExists(peer)) throw new TransportConfigError(`"${peer}" is not a peer of this node; add it first with \`outpost peer add CARD\``)
    const driver = driverFor(kind)
    if (!driver) throw new TransportConfigError(`unknown transport kind "${kind}" (known: ${driverKinds().join(', ')})`)
    // The width settings (narrow, max_message_kib) are every carrier's, kept
    // beside the driver's own: checked here, read again at each run.
    linkWidth(driver, raw)
    const width = Object.fromEntries(Object.entries(raw).filter(([k, v]) => (k === 'narrow' || k === 'max_message_kib') && v !== ''))
    const config = { ...(driver.parseConfig(withoutLinkKeys(raw)) as Record<string, string>), ...width }
    const sched = schedule ?? driver.defaultSchedule
    checkSchedule(sched)
    const row = this.db
      .insert(transports)
      .values({ peer, kind, config: JSON.stringify(config), schedule: sched, enabled: true, createdAt: Date.now() })
      .returning()
      .get()
    return toInfo(row)
  }

  list(peer?: string): TransportInfo[] {
    const q = this.db.select().from(transports)
    return (peer ? q.where(eq(transports.peer, peer)) : q).orderBy(transports.id).all().map(toInfo)
  }

  /** How wide each enabled carrier of `peer` is: what the queue explains a held message by. */
  widths(peer: string): CarrierWidth[] {
    return this.list(peer).flatMap((t) => {
      const driver = driverFor(t.kind)
      if (!t.enabled || !driver) return []
      try {
        return [{ id: t.id, kind: t.kind, link: linkWidth(driver, t.config) }]
      } catch {
        return []
      }
    })
  }

  get(id: number): TransportInfo | undefined {
    const r = this.db.select().from(transports).where(eq(transports.id, id)).get()
    return r ? toInfo(r) : undefined
  }

  remove(id: number): void {
    if (this.db.delete(transports).where(eq(transports.id, id)).run().changes === 0) throw new TransportConfigError(`no transport with id ${id} (see \`outpost transport list\`)`)
  }

  setSchedule(id: number, schedule: string): void {
    checkSchedule(schedule)
    if (this.db.update(transports).set({ schedule }).where(eq(transports.id, id)).run().changes === 0) throw new TransportConfigError(`no transport with id ${id}`)
  }

  startRun(transportId: number, now = Date.now()): number {
    return this.db.insert(transportRuns).values({ transportId, startedAt: now }).returning({ id: transportRuns.id }).get().id
  }

  finishRun(runId: number, r: { ok: boolean; error?: string; bytesOut?: number; bytesIn?: number; detail?: string }, now = Date.now()): void {
    this.db
      .update(transportRuns)
      .set({ finishedAt: now, ok: r.ok, error: r.error ?? null, bytesOut: r.bytesOut ?? 0, bytesIn: r.bytesIn ?? 0, detail: r.detail ?? null })
      .where(eq(transportRuns.id, runId))
      .run()
  }

  runs(transportId: number, limit = 20): RunInfo[] {
    return this.db.select().from(transportRuns).where(eq(transportRuns.transportId, transportId)).orderBy(desc(transportRuns.startedAt)).limit(limit).all()
  }

  lastSuccess(transportId: number): RunInfo | undefined {
    return this.db
      .select()
      .from(transportRuns)
      .where(and(eq(transportRuns.transportId, transportId), eq(transportRuns.ok, true)))
      .orderBy(desc(transportRuns.startedAt))
      .limit(1)
      .get()
  }

  overview(t: TransportInfo, nextCount = 5, now = new Date()): TransportOverview {
    const next = t.schedule === EVENT_SCHEDULE ? [] : nextRuns(t.schedule, nextCount + 1).filter((d) => d > now).slice(0, nextCount)
    return {
      id: t.id,
      peer: t.peer,
      kind: t.kind,
      schedule: t.schedule,
      enabled: t.enabled,
      options: maskSecrets(t.kind, t.config),
      lastRun: this.runs(t.id, 1)[0] ?? null,
      nextRuns: next.map((d) => d.getTime()),
    }
  }

  /** Failures in a row since the last success: the scheduler backs off by it. */
  failuresInARow(transportId: number): number {
    let n = 0
    for (const r of this.runs(transportId, 50)) {
      if (r.ok === true) break
      if (r.ok === false) n++
    }
    return n
  }
}

function toInfo(r: typeof transports.$inferSelect): TransportInfo {
  return { id: r.id, peer: r.peer, kind: r.kind, config: JSON.parse(r.config) as Record<string, string>, schedule: r.schedule, enabled: r.enabled, createdAt: r.createdAt }
}
