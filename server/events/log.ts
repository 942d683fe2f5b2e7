// The event log: append from any process, tail from the node. SQLite is the
// bus because the writers are separate processes (Haraka, udev's offload,
// the CLI) that already share the database; the node polls for new ids and
// fans them out in-process through an EventBus.
import { gt, lt, asc, desc, inArray, and, gte, sql } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { events } from '../db/schema.js'
import { isTransient, type EventKind, type OutpostEvent, type OutpostEvents } from './types.js'

type Listener = (ev: OutpostEvent) => void

/** In-process fan-out of events, typed by kind. */
export class EventBus {
  #listeners = new Set<Listener>()

  on(listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  emit(ev: OutpostEvent): void {
    for (const l of this.#listeners) {
      try {
        l(ev)
      } catch {
        // A listener (a closed websocket, say) must not stop the others.
      }
    }
  }
}

export class EventLog {
  constructor(
    private readonly db: Db,
    /** When set, events recorded by this process are also emitted here at once. */
    private readonly bus?: EventBus,
  ) {}

  /** Records an event. Progress events are only emitted on the bus, never stored. */
  record<K extends EventKind>(kind: K, data: OutpostEvents[K], at = Date.now()): OutpostEvent<K> {
    if (isTransient(kind, data)) {
      const ev = { id: 0, at, kind, data }
      this.bus?.emit(ev)
      return ev
    }
    this.insert ??= this.prepareInsert()
    const row = this.insert.get({ at, kind, data: JSON.stringify(data) })!
    return { id: row.id, at, kind, data }
  }

  /** Prepared on first use: Haraka records two events a message, and building the insert anew each time cost more than running it. */
  private insert?: ReturnType<EventLog['prepareInsert']>

  private prepareInsert() {
    return this.db.insert(events).values({ at: sql.placeholder('at'), kind: sql.placeholder('kind'), data: sql.placeholder('data') }).returning({ id: events.id }).prepare()
  }

  /** Events after `afterId`, oldest first. */
  since(afterId: number, limit = 500): OutpostEvent[] {
    return this.db.select().from(events).where(gt(events.id, afterId)).orderBy(asc(events.id)).limit(limit).all().map(toEvent)
  }

  /** The newest events, newest first, optionally of some kinds only. */
  recent(opts: { limit?: number; kinds?: EventKind[]; before?: number } = {}): OutpostEvent[] {
    const where = and(
      opts.kinds?.length ? inArray(events.kind, opts.kinds) : undefined,
      opts.before ? lt(events.id, opts.before) : undefined,
    )
    return this.db.select().from(events).where(where).orderBy(desc(events.id)).limit(opts.limit ?? 100).all().map(toEvent)
  }

  /** Counts of some kinds per UTC day since `fromMs`, for the traffic chart. */
  perDay(kinds: EventKind[], fromMs: number): { day: string; kind: EventKind; count: number }[] {
    const rows = this.db
      .select({ at: events.at, kind: events.kind })
      .from(events)
      .where(and(inArray(events.kind, kinds), gte(events.at, fromMs)))
      .all()
    const counts = new Map<string, number>()
    for (const r of rows) {
      const key = `${new Date(r.at).toISOString().slice(0, 10)}|${r.kind}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return [...counts].map(([k, count]) => {
      const [day, kind] = k.split('|') as [string, EventKind]
      return { day, kind, count }
    })
  }

  lastId(): number {
    return this.db.select({ id: events.id }).from(events).orderBy(desc(events.id)).limit(1).get()?.id ?? 0
  }

  /** Deletes events older than `beforeMs`; returns how many went. */
  prune(beforeMs: number): number {
    return this.db.delete(events).where(lt(events.at, beforeMs)).run().changes
  }

  /**
   * Polls the table for rows written by any process and emits them on `bus`.
   * Returns a stop function. The poll is one indexed query; 250 ms keeps the
   * activity page live without measurable cost.
   */
  tail(bus: EventBus, intervalMs = 250): () => void {
    let last = this.lastId()
    const timer = setInterval(() => {
      try {
        for (const ev of this.since(last)) {
          last = ev.id
          bus.emit(ev)
        }
      } catch {
        // A busy database is retried on the next tick.
      }
    }, intervalMs)
    timer.unref()
    return () => clearInterval(timer)
  }
}

function toEvent(r: typeof events.$inferSelect): OutpostEvent {
  return { id: r.id, at: r.at, kind: r.kind as EventKind, data: JSON.parse(r.data) }
}
