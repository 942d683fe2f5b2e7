// The Autocrypt keys this node has received whole in narrow payloads, kept
// so that later payloads may refer to them by a 12-byte reference. One file
// a key, named by its reference: the name is a hash of the content, so a
// file that does not hash to its name is damage and is not used. Losing the
// folder loses nothing but bytes on air: a payload that refers to a key not
// here is refused, and the sender sends its keys whole again.
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurable } from '../../base/durable.js'
import { keyRef } from './autocrypt-key.js'

const REF = /^[0-9a-f]{24}$/

export class Keyring {
  constructor(private readonly dir: string) {}

  get(ref: string): Buffer | undefined {
    if (!REF.test(ref)) return undefined
    let key: Buffer
    try {
      key = readFileSync(join(this.dir, ref))
    } catch {
      return undefined
    }
    return keyRef(key) === ref ? key : undefined
  }

  /** Stores keys durably: called before the bundle that brought them counts as taken in. */
  put(keys: Map<string, Buffer>): void {
    if (keys.size === 0) return
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    for (const [ref, key] of keys) {
      if (keyRef(key) !== ref || this.get(ref)) continue
      writeFileDurable(join(this.dir, ref), key, 0o600)
    }
  }
}
