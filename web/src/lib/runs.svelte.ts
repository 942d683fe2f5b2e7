// Progress of transport runs, fed by `transport.run` events: the Transports
// page draws its progress bars from this, and the dashboard its "running" marks.
import type { OutpostEvent } from './api.ts'

export interface RunProgress {
  phase: 'start' | 'progress' | 'done' | 'error'
  done?: number
  total?: number
  error?: string
  /** 0..1, or null while the total is not known yet (an indeterminate bar). */
  fraction: number | null
  at: number
}

export function progressOf(e: OutpostEvent<'transport.run'>): RunProgress {
  const { phase, done, total, error } = e.data
  let fraction: number | null = null
  if (phase === 'done') fraction = 1
  else if (phase === 'progress' && total !== undefined && total > 0 && done !== undefined) fraction = Math.min(1, Math.max(0, done / total))
  else if (phase === 'start') fraction = total === 0 ? 1 : null
  return { phase, done, total, error, fraction, at: e.at }
}

export class Runs {
  /** By transport id: the latest state of its current or last run seen live. */
  byTransport = $state<Record<number, RunProgress>>({})

  apply(e: OutpostEvent<'transport.run'>): void {
    const prev = this.byTransport[e.data.transportId]
    // Events can cross on the wire; an older progress must not move the bar back.
    if (prev && e.at < prev.at && e.data.phase === 'progress') return
    this.byTransport[e.data.transportId] = progressOf(e)
  }

  running(id: number): boolean {
    const p = this.byTransport[id]
    return p !== undefined && (p.phase === 'start' || p.phase === 'progress')
  }

  /** The person pressed "Run now": show the bar at once, before the first event. */
  started(id: number): void {
    this.byTransport[id] = { phase: 'start', fraction: null, at: Date.now() }
  }
}

export const runs = new Runs()
