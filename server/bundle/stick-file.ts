// Reading what a stick holds. A stick comes from anyone: its file system
// can hold symlinks (to /dev/zero, to /etc/shadow), FIFOs, device nodes and
// directories named like bundles. Only plain files are bundles, and a
// bundle is read only through a descriptor that was checked to be one:
//
//   lstat the name (no link followed) → open with O_NOFOLLOW | O_NONBLOCK
//   (a link swapped in after the lstat fails to open; a FIFO swapped in
//   does not block) → fstat the descriptor (a regular file, at most the
//   cap) → read at most the cap.
//
// A FIFO named like a bundle froze a whole node when it was opened for
// reading, and a link to /dev/zero was read until allocation failed.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, type Stats } from 'node:fs'
import { createHash } from 'node:crypto'
import { OutpostError } from '../base/errors.js'

export type StickFileProblem = 'not-a-file' | 'too-large' | 'unreadable'

export class StickFileError extends OutpostError {
  override name = 'StickFileError'
  constructor(
    readonly problem: StickFileProblem,
    message: string,
    /** For too-large: the size the descriptor reported. */
    readonly size?: number,
  ) {
    super(message)
  }
}

/** What a directory entry is, in words a person reads in a log. */
export function kindOf(st: Stats): string {
  if (st.isFile()) return 'file'
  if (st.isDirectory()) return 'folder'
  if (st.isSymbolicLink()) return 'symbolic link'
  if (st.isFIFO()) return 'named pipe (FIFO)'
  if (st.isSocket()) return 'socket'
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'device node'
  return 'special file'
}

function ioMessage(path: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException
  return `${path} cannot be read (${e.code ?? e.message}); the stick may be failing: copy what you can from it on another computer`
}

/**
 * Opens `path` only if it is a regular file and not a link, without
 * blocking; the caller closes the descriptor. Throws StickFileError.
 */
function openRegular(path: string, maxBytes: number): { fd: number; size: number } {
  let st: Stats
  try {
    st = lstatSync(path)
  } catch (err) {
    throw new StickFileError('unreadable', ioMessage(path, err))
  }
  if (!st.isFile()) throw new StickFileError('not-a-file', `${path} is a ${kindOf(st)}, not a plain file; only plain files are read from a stick, so it was left alone`)
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // ELOOP: it became a link between the lstat and the open.
    if (code === 'ELOOP') throw new StickFileError('not-a-file', `${path} is a symbolic link, not a plain file; it was left alone`)
    throw new StickFileError('unreadable', ioMessage(path, err))
  }
  try {
    const f = fstatSync(fd)
    if (!f.isFile()) throw new StickFileError('not-a-file', `${path} is a ${kindOf(f)}, not a plain file; it was left alone`)
    if (f.size > maxBytes) throw new StickFileError('too-large', `${path} has ${f.size} bytes, more than the ${maxBytes} a bundle may have`, f.size)
    return { fd, size: f.size }
  } catch (err) {
    closeSync(fd)
    throw err
  }
}

/** Reads a bundle file from a stick: a regular file, never more than `maxBytes`. */
export function readStickFile(path: string, maxBytes: number): Buffer {
  const { fd, size } = openRegular(path, maxBytes)
  try {
    const buf = Buffer.alloc(size)
    let got = 0
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got)
      if (n === 0) break
      got += n
    }
    // Grown since the fstat (someone writes to it): more than we were told.
    if (got === size && readSync(fd, Buffer.alloc(1), 0, 1, size) > 0) throw new StickFileError('too-large', `${path} grew while it was read; it was left alone`)
    return got === size ? buf : buf.subarray(0, got)
  } catch (err) {
    if (err instanceof StickFileError) throw err
    throw new StickFileError('unreadable', ioMessage(path, err))
  } finally {
    closeSync(fd)
  }
}

/**
 * What is kept of a file too large to keep: its size, sha256 and first
 * `headBytes` (a bundle's frame and header, which say who sent it). The
 * file is read through the same checked descriptor, `chunk` at a time.
 */
export function summarizeStickFile(path: string, headBytes: number, maxBytes = Number.MAX_SAFE_INTEGER): { size: number; sha256: string; head: Buffer } {
  const { fd, size } = openRegular(path, maxBytes)
  try {
    const hash = createHash('sha256')
    const chunk = Buffer.alloc(1024 * 1024)
    let head = Buffer.alloc(0)
    let at = 0
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, at)
      if (n === 0) break
      if (at < headBytes) head = Buffer.concat([head, chunk.subarray(0, Math.min(n, headBytes - at))])
      hash.update(chunk.subarray(0, n))
      at += n
    }
    return { size: Math.max(size, at), sha256: hash.digest('hex'), head }
  } catch (err) {
    if (err instanceof StickFileError) throw err
    throw new StickFileError('unreadable', ioMessage(path, err))
  } finally {
    closeSync(fd)
  }
}

export type FolderListing = { kind: 'absent' } | { kind: 'not-a-folder'; what: string } | { kind: 'listed'; names: string[] }

/**
 * The names in a stick folder, the folder itself checked not to be a link
 * (a link could point into the node's own data, whose files an import
 * would then remove). A missing folder is no error: the stick has nothing
 * there. A folder that exists and cannot be read is: it throws, with what
 * a person can do.
 */
export function listStickFolder(folder: string): FolderListing {
  let st: Stats
  try {
    st = lstatSync(folder)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' }
    throw new StickFileError('unreadable', ioMessage(folder, err))
  }
  if (!st.isDirectory()) return { kind: 'not-a-folder', what: kindOf(st) }
  try {
    return { kind: 'listed', names: readdirSync(folder) }
  } catch (err) {
    throw new StickFileError('unreadable', ioMessage(folder, err))
  }
}
