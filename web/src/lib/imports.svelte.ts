// Progress of bundle imports, fed by `import.run` events: a stick, a folder
// or Syncthing carrier, or `outpost import` run on the box. The dashboard
// draws its import bar from this; one import runs at a time per carrier.
import type { OutpostEvent } from './api.ts'

export interface ImportProgress {
  via: string
  phase: 'start' | 'progress' | 'done' | 'error'
  /** Messages handled so far (delivered here, forwarded, or already had). */
  messages: number
  /** 0..1 of the bundle files' bytes, or null before the first bundle is opened. */
  fraction: number | null
  error?: string
  at: number
}

export function importProgressOf(e: OutpostEvent<'import.run'>): ImportProgress {
  const { via, phase, done, total, messages, error } = e.data
  let fraction: number | null = null
  if (phase === 'done') fraction = 1
  else if (total !== undefined && total > 0 && done !== undefined) fraction = Math.min(1, Math.max(0, done / total))
  return { via, phase, messages: messages ?? 0, fraction, error, at: e.at }
}

export class Imports {
  /** By carrier (`usb`, `folder`, `syncthing`): its current or last import seen live. */
  byVia = $state<Record<string, ImportProgress>>({})

  apply(e: OutpostEvent<'import.run'>): void {
    const prev = this.byVia[e.data.via]
    // Events can cross on the wire; an older progress must not move the bar back.
    if (prev && e.at < prev.at && e.data.phase === 'progress') return
    this.byVia[e.data.via] = importProgressOf(e)
  }

  /** Imports running now, then the finished ones, newest first. */
  get list(): ImportProgress[] {
    const running = (p: ImportProgress) => p.phase === 'start' || p.phase === 'progress'
    return Object.values(this.byVia).sort((a, b) => Number(running(b)) - Number(running(a)) || b.at - a.at)
  }
}

export const imports = new Imports()
