// Quarantine: what cannot be imported is kept, never deleted, beside a
// short file that says why and what to do.
import { join, basename } from 'node:path'
import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync } from 'node:fs'
import { writeFileDurable } from './durable.js'
import { OutpostError } from './errors.js'

export interface QuarantineEntry {
  file: string
  reason: string
}

/**
 * The name an item is kept under: only safe characters, and short enough
 * that the time stamp before it and ".reason.txt" after it still fit in the
 * 255 bytes a file name may have (a name from a stick may use all 255). A
 * shortened name ends in a hash of the whole, so two stay apart.
 */
export function safeName(name: string): string {
  const clean = basename(name).replace(/[^A-Za-z0-9._-]/g, '_')
  if (clean.length <= MAX_NAME) return clean
  return `${clean.slice(0, MAX_NAME - 13)}-${createHash('sha256').update(clean).digest('hex').slice(0, 12)}`
}
const MAX_NAME = 160

/** Bounds on the quarantine (outpost.toml [storage]); without them it is unbounded. */
export interface QuarantineLimits {
  maxBytes: number
  maxItems: number
  /** An item larger than this is kept as its size, hash and head, not its body. */
  maxItemBytes: number
}

export function quarantineLimits(storage: { quarantine_max_mb: number; quarantine_max_items: number; quarantine_item_max_mb: number }): QuarantineLimits {
  const MiB = 1024 * 1024
  return { maxBytes: storage.quarantine_max_mb * MiB, maxItems: storage.quarantine_max_items, maxItemBytes: storage.quarantine_item_max_mb * MiB }
}

/** The quarantine cannot take even the short form of an item: a person must look at it and empty it. */
export class QuarantineFullError extends OutpostError {
  override name = 'QuarantineFullError'
}

/** The part of an item that says what it is: a message's header, or a bundle's frame and header; at most 64 KiB. */
export function headOf(bytes: Buffer): Buffer {
  const cap = bytes.subarray(0, HEAD_BYTES)
  const end = cap.indexOf('\r\n\r\n')
  const lf = cap.indexOf('\n\n')
  const cut = end >= 0 ? end + 4 : lf >= 0 ? lf + 2 : cap.length
  return cap.subarray(0, cut)
}
const HEAD_BYTES = 64 * 1024

function usage(dir: string): { bytes: number; items: number } {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return { bytes: 0, items: 0 }
  }
  let bytes = 0
  let items = 0
  for (const n of names) {
    if (n.startsWith('.')) continue
    if (!n.endsWith('.reason.txt')) items++
    try {
      bytes += lstatSync(join(dir, n)).size
    } catch {
      /* removed meanwhile */
    }
  }
  return { bytes, items }
}

/**
 * Keeps `bytes` under `name` beside a file with the reason. With limits,
 * an item over the per-item cap, or one that would take the quarantine
 * over its total, is kept as its head (headers) with its size and sha256
 * in the reason; when the count is reached or not even that fits, it
 * throws QuarantineFullError and nothing is written (the caller leaves the
 * input where it was, to be tried again once a person made room).
 */
export function quarantine(dir: string, name: string, bytes: Buffer, reason: string, now = Date.now(), limits?: QuarantineLimits): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  // basename: a name taken from a stick or a header never escapes the folder.
  const file = join(dir, `${stamp}-${safeName(name)}`)
  let keep = bytes
  let why = reason
  if (limits) {
    const used = usage(dir)
    const full = `the quarantine in ${dir} is full (${used.items} items, ${used.bytes} bytes; [storage] quarantine_max_items ${limits.maxItems}, quarantine_max_mb ${Math.round(limits.maxBytes / (1024 * 1024))}); look at what is there, then remove it to make room`
    if (used.items + 1 > limits.maxItems) throw new QuarantineFullError(full)
    if (bytes.length > limits.maxItemBytes || used.bytes + bytes.length + 4096 > limits.maxBytes) {
      keep = headOf(bytes)
      why = `${reason}\n(only the first ${keep.length} bytes are kept: the whole was ${bytes.length} bytes with sha256 ${createHash('sha256').update(bytes).digest('hex')}, over the quarantine's limits)`
      if (used.bytes + keep.length + 4096 > limits.maxBytes) throw new QuarantineFullError(full)
    }
  }
  writeFileDurable(file, keep, 0o600)
  writeFileDurable(`${file}.reason.txt`, `${why}\n`, 0o600)
  return file
}

export function listQuarantine(dir: string): QuarantineEntry[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter((n) => !n.endsWith('.reason.txt') && !n.startsWith('.'))
    .sort()
    .map((n) => {
      let reason: string
      try {
        reason = readFileSync(join(dir, `${n}.reason.txt`), 'utf8').trim()
      } catch {
        reason = '(no reason recorded)'
      }
      return { file: join(dir, n), reason }
    })
}
