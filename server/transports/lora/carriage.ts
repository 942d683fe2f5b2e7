// What crosses the radio for a bundle: its compact carriage form
// (bundle/compact.ts) when the peer takes it, else the bundle file as it
// is. The peer says it takes the form in the flags of its QUERY and DATA
// frames (frames.ts); what it said last is kept beside its radio queue, so
// a run that has not heard it yet still knows. A peer that has never said
// so (an older version) gets the bundle file, which it reads as before.
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurable } from '../../base/durable.js'
import { compactBundle } from '../../bundle/compact.js'

export class CompactCarriage {
  private readonly file: string

  /** `peerDir`: the peer's folder under spool/lora. */
  constructor(peerDir: string) {
    this.file = join(peerDir, 'takes-compact')
  }

  /** Records what the link last heard the peer say (undefined: nothing yet); returns whether the peer takes the compact form. */
  peerTakesCompact(heard: boolean | undefined): boolean {
    if (heard === true && !existsSync(this.file)) writeFileDurable(this.file, 'the peer takes compact carriage forms (it said so in its frames\' flags)\n', 0o600)
    if (heard === false) rmSync(this.file, { force: true })
    return heard ?? existsSync(this.file)
  }

  /** The bytes to send for `bundle`: the compact form when the peer takes it and it reproduces the bundle exactly, else the bundle. */
  carried(bundle: Buffer, heard: boolean | undefined): Buffer {
    if (!this.peerTakesCompact(heard)) return bundle
    const r = compactBundle(bundle)
    return 'compact' in r ? r.compact : bundle
  }
}
