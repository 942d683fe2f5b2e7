// Durable file writes: tmp → fsync file → rename → fsync directory. After
// writeFileDurable returns, the file is either wholly there or not at all,
// even across power loss.
import { closeSync, fsyncSync, openSync, renameSync, writeSync, mkdirSync, unlinkSync } from 'node:fs'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { crashPoint } from './crash-point.js'

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export function writeFileDurable(path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path)
  mkdirSync(dir, { recursive: true })
  // A dot-prefixed tmp name never looks like a finished file to a reader.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fd = openSync(tmp, 'wx', mode)
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data
    let off = 0
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    try { unlinkSync(tmp) } catch { /* the tmp file may already be gone */ }
    throw err
  }
  closeSync(fd)
  crashPoint('durable.written')
  renameSync(tmp, path)
  crashPoint('durable.renamed')
  fsyncDir(dir)
  crashPoint('durable.synced')
}
