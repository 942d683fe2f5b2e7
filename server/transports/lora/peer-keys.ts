// What this node knows the peer holds of the Autocrypt keys it sent by
// radio, so that later bundles may send a 12-byte reference instead of a
// key (bundle/narrow/codec.ts). A key counts as held only once the peer has
// answered that it took in a bundle carrying that key whole: the peer keeps
// keys before it answers (exchange/import.ts). If the peer refuses a bundle
// (it lost its keys, or never had them), everything known is forgotten and
// keys go whole again: mail is delayed, never lost.
import { existsSync, readFileSync } from 'node:fs'
import { writeFileDurable } from '../../base/durable.js'

interface Known {
  /** References the peer has confirmed holding. */
  held: string[]
  /** References sent whole, by the radio-queue file that carries them, until the peer takes that file in. */
  pending: Record<string, string[]>
}

/** Bounds the file: a node talks to a few dozen phones' keys at most. */
const HELD_KEPT = 1024

export class PeerKeys {
  private known: Known

  constructor(private readonly file: string) {
    this.known = { held: [], pending: {} }
    if (existsSync(file)) {
      try {
        const k = JSON.parse(readFileSync(file, 'utf8')) as Known
        if (Array.isArray(k.held) && typeof k.pending === 'object' && k.pending !== null) this.known = k
      } catch {
        // Unreadable: start knowing nothing, which only costs bytes (keys go whole).
      }
    }
  }

  has(ref: string): boolean {
    return this.known.held.includes(ref)
  }

  /** Keys sent whole in the queued bundle `file`. */
  sent(file: string, refs: Iterable<string>): void {
    const list = [...refs]
    if (list.length === 0) return
    this.known.pending[file] = list
    this.save()
  }

  /** The peer took `file` in: the keys it carried are held. */
  taken(file: string): void {
    const refs = this.known.pending[file]
    if (!refs) return
    delete this.known.pending[file]
    this.known.held = [...this.known.held.filter((r) => !refs.includes(r)), ...refs].slice(-HELD_KEPT)
    this.save()
  }

  /** The peer refused a bundle: it may hold none of the keys any more. */
  forget(): void {
    this.known = { held: [], pending: {} }
    this.save()
  }

  private save(): void {
    writeFileDurable(this.file, JSON.stringify(this.known), 0o600)
  }
}
