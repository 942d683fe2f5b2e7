// Quarantine: what cannot be imported is kept, never deleted, beside a
// short file that says why and what to do.
import { join, basename } from 'node:path'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { writeFileDurable } from '../durable.js'

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

export function quarantine(dir: string, name: string, bytes: Buffer, reason: string, now = Date.now()): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  // basename: a name taken from a stick or a header never escapes the folder.
  const file = join(dir, `${stamp}-${safeName(name)}`)
  writeFileDurable(file, bytes, 0o600)
  writeFileDurable(`${file}.reason.txt`, `${reason}\n`, 0o600)
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
      let reason = ''
      try {
        reason = readFileSync(join(dir, `${n}.reason.txt`), 'utf8').trim()
      } catch {
        reason = '(no reason recorded)'
      }
      return { file: join(dir, n), reason }
    })
}
