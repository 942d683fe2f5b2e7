// Items gathered during one turn of the event loop and handed on together
// on the next: one write for many lines, off the path that produced them.
// The traces (hop-trace.ts, the accept trace) and a child Haraka's log lines
// use it.

export interface TurnBatch<T> {
  /** Adds an item; the batch is handed on at the next turn. */
  push(item: T): void
  /** Hands on what is gathered now (at exit, say); does nothing when nothing is. */
  flush(): void
}

/** A batch that calls `handle` once per turn with the items pushed since the last call. */
export function batchPerTurn<T>(handle: (items: T[]) => void): TurnBatch<T> {
  let items: T[] = []
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (items.length === 0) return
    const batch = items
    items = []
    handle(batch)
  }
  return {
    push(item) {
      items.push(item)
      if (scheduled) return
      scheduled = true
      setImmediate(flush)
    },
    flush,
  }
}
