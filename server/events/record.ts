// Recording what happened without letting the record get in its way. A
// delivery, an import or a transport run has already happened when it is
// reported; a busy or broken events table must not turn it into a failure.
import type { EventKind, OutpostEvents } from './types.js'

/** What a module needs to report events: `EventLog` has it, and so do the Haraka plugins' deferred writer. */
export interface EventRecorder {
  record<K extends EventKind>(kind: K, data: OutpostEvents[K]): unknown
}

/** Records an event; a failure is logged (naming the event) and never thrown. */
export function recordSafely<K extends EventKind>(
  events: EventRecorder | undefined,
  kind: K,
  data: OutpostEvents[K],
  log: (line: string) => void = (line) => console.error(line),
): void {
  if (!events) return
  try {
    events.record(kind, data)
  } catch (err) {
    try {
      log(`could not record the event ${kind} (the activity log and the traffic chart will miss it): ${(err as Error).message}`)
    } catch {
      // Nowhere left to report to; what happened still happened.
    }
  }
}
