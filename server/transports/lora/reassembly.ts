// The receiving side's half-built bundles, kept on disk so that a link that
// drops mid-bundle resumes where it stopped, after a restart too. Per
// transfer: `<id>.part` holds the fragments at their offsets (each written
// and fsynced before it counts) and `<id>.json` which of them are held
// (tmp → fsync → rename, after the fragment). `done.json` remembers the
// last transfers taken in, so a sender whose final ACK was lost hears
// "done" again instead of sending the bundle a second time.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurable } from '../../base/durable.js'
import { fragmentLength, transferId } from './frames.js'

interface PartState {
  total: number
  count: number
  /** One bit per fragment, LSB first. */
  have: Buffer
  held: number
  /** When a fragment last arrived: the oldest transfer is dropped when too many are open. */
  at: number
}

interface DoneEntry {
  id: string
  status: number
}

/** How many finished transfers are remembered. */
const DONE_KEPT = 64

export class Reassembly {
  private parts = new Map<string, PartState>()
  private done: DoneEntry[] = []

  constructor(
    private readonly dir: string,
    readonly maxBytes: number,
    private readonly maxOpen = 4,
    private readonly now: () => number = Date.now,
  ) {
    mkdirSync(dir, { recursive: true })
    for (const name of readdirSync(dir)) {
      const m = /^([0-9a-f]{16})\.json$/.exec(name)
      if (!m) continue
      try {
        const j = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { total: number; count: number; have: string; at: number }
        const have = Buffer.from(j.have, 'hex')
        if (have.length !== Math.ceil(j.count / 8) || !existsSync(this.partFile(m[1]!))) throw new Error('inconsistent')
        this.parts.set(m[1]!, { total: j.total, count: j.count, have, held: countBits(have), at: j.at })
      } catch {
        // A state file that cannot be read costs a resend of that bundle, nothing more.
        this.drop(m[1]!)
      }
    }
    const doneFile = join(dir, 'done.json')
    if (existsSync(doneFile)) {
      try {
        this.done = (JSON.parse(readFileSync(doneFile, 'utf8')) as DoneEntry[]).filter((e) => typeof e.id === 'string' && typeof e.status === 'number')
      } catch {
        this.done = []
      }
    }
  }

  private partFile(id: string): string {
    return join(this.dir, `${id}.part`)
  }

  doneStatus(id: string): number | undefined {
    return this.done.find((e) => e.id === id)?.status
  }

  markDone(id: string, status: number): void {
    this.done = [...this.done.filter((e) => e.id !== id), { id, status }].slice(-DONE_KEPT)
    writeFileDurable(join(this.dir, 'done.json'), JSON.stringify(this.done), 0o600)
    this.drop(id)
  }

  /** Forgets a transfer and its bytes. */
  drop(id: string): void {
    this.parts.delete(id)
    rmSync(this.partFile(id), { force: true })
    rmSync(join(this.dir, `${id}.json`), { force: true })
  }

  /** The transfer's state, opened if new; undefined when it cannot be taken (too large, an impossible plan, or it disagrees with what is held). */
  open(id: string, total: number, count: number): PartState | undefined {
    const p = this.parts.get(id)
    if (p) return p.total === total && p.count === count ? p : undefined
    if (total > this.maxBytes || total < 1 || fragmentLength(total, count, count - 1) < 1) return undefined
    if (this.parts.size >= this.maxOpen) {
      const oldest = [...this.parts.entries()].sort((a, b) => a[1].at - b[1].at)[0]!
      this.drop(oldest[0])
    }
    const state: PartState = { total, count, have: Buffer.alloc(Math.ceil(count / 8)), held: 0, at: this.now() }
    closeSync(openSync(this.partFile(id), 'w', 0o600))
    this.parts.set(id, state)
    this.save(id, state)
    return state
  }

  /** Stores one fragment; false when the transfer cannot take it. A fragment already held is not written again. */
  put(id: string, total: number, count: number, index: number, data: Buffer): boolean {
    const p = this.open(id, total, count)
    if (!p || fragmentLength(total, count, index) !== data.length) return false
    if (hasBit(p.have, index)) return true
    const fd = openSync(this.partFile(id), 'r+')
    try {
      let off = 0
      while (off < data.length) off += writeSync(fd, data, off, data.length - off, index * Math.ceil(total / count) + off)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    p.have[index >> 3]! |= 1 << (index & 7)
    p.held++
    p.at = this.now()
    this.save(id, p)
    return true
  }

  isComplete(id: string): boolean {
    const p = this.parts.get(id)
    return !!p && p.held === p.count
  }

  /**
   * The whole bundle, once every fragment is held and the bytes hash to the
   * transfer id; a complete transfer that does not is dropped (it is
   * resent from the start) and undefined is returned.
   */
  take(id: string): Buffer | undefined {
    const p = this.parts.get(id)
    if (!p || p.held !== p.count) return undefined
    const buf = Buffer.alloc(p.total)
    const fd = openSync(this.partFile(id), 'r')
    try {
      let off = 0
      while (off < p.total) {
        const n = readSync(fd, buf, off, p.total - off, off)
        if (n === 0) break
        off += n
      }
    } finally {
      closeSync(fd)
    }
    if (transferId(buf).toString('hex') !== id) {
      this.drop(id)
      return undefined
    }
    return buf
  }

  /** What to acknowledge: all below `base` held, then a bitmap of at most `maxBytes` bytes. */
  ackState(id: string, maxBytes: number): { base: number; bitmap: Buffer } {
    const p = this.parts.get(id)
    if (!p) return { base: 0, bitmap: Buffer.alloc(0) }
    let base = 0
    while (base < p.count && hasBit(p.have, base)) base++
    const bits = Math.min(p.count - base, maxBytes * 8)
    const bitmap = Buffer.alloc(Math.ceil(bits / 8))
    for (let i = 0; i < bits; i++) if (hasBit(p.have, base + i)) bitmap[i >> 3]! |= 1 << (i & 7)
    return { base, bitmap }
  }

  private save(id: string, p: PartState): void {
    writeFileDurable(join(this.dir, `${id}.json`), JSON.stringify({ total: p.total, count: p.count, have: p.have.toString('hex'), at: p.at }), 0o600)
  }
}

export function hasBit(map: Buffer, i: number): boolean {
  return ((map[i >> 3] ?? 0) & (1 << (i & 7))) !== 0
}

function countBits(map: Buffer): number {
  let n = 0
  for (const b of map) for (let v = b; v; v &= v - 1) n++
  return n
}
