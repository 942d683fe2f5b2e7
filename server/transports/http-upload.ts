// The body of a signed peer request (a bundle POSTed by the HTTP transport),
// received before anyone knows whether the signature is good. Until the
// signature over the body's hash checks out, the sender is a stranger who
// knows a peer's name, so the body is never held in memory: it streams to
// a temp file in the data dir (not /tmp, which is RAM on a Pi) while it is
// hashed and counted, and a body over the limit is cut off as soon as it
// goes over. The caller verifies the hash, then reads the file or drops it.
import { createHash } from 'node:crypto'
import { createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

export interface ReceivedBody {
  /** sha256 of the body, lower-case hex, as the signing string wants it. */
  sha256: string
  bytes: number
  /** Where the body is, when it was kept; the caller removes it. */
  file?: string
}

export class UploadTooLarge extends Error {
  override name = 'UploadTooLarge'
  readonly statusCode = 413
  constructor(limit: number) {
    super(`the body is larger than ${limit} bytes, the most this node takes in one request`)
  }
}

/**
 * Streams `body` through a hash into `file` (created new, 0600), or only
 * through the hash when `file` is not given. Memory stays at one chunk:
 * the write stream's backpressure pauses the socket. On any failure
 * (too large, the sender went away, the disk is full) the file is removed
 * before the promise rejects.
 */
export async function receiveBody(body: Readable, opts: { limit: number; file?: string }): Promise<ReceivedBody> {
  const hash = createHash('sha256')
  let bytes = 0
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length
      if (bytes > opts.limit) return cb(new UploadTooLarge(opts.limit))
      hash.update(chunk)
      cb(null, opts.file ? chunk : undefined)
    },
  })
  try {
    if (opts.file) await pipeline(body, count, createWriteStream(opts.file, { flags: 'wx', mode: 0o600 }))
    else {
      count.resume()
      await pipeline(body, count)
    }
  } catch (err) {
    if (opts.file) rmSync(opts.file, { force: true })
    throw err
  }
  return { sha256: hash.digest('hex'), bytes, ...(opts.file ? { file: opts.file } : {}) }
}

/** Makes the upload folder and removes what a crash left in it: nothing there outlives its request. */
export function prepareUploadDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (const n of readdirSync(dir)) rmSync(join(dir, n), { force: true, recursive: true })
}

/**
 * How many unverified bodies may stream in at once. Each costs a socket,
 * a write stream and disk space up to the limit, and nothing proves its
 * sender is a peer until it has all arrived; past the cap, a request is
 * refused (503, try again) before its body is read.
 */
export class UploadSlots {
  #busy = 0
  constructor(readonly max: number) {}

  take(): boolean {
    if (this.#busy >= this.max) return false
    this.#busy++
    return true
  }

  give(): void {
    if (this.#busy > 0) this.#busy--
  }

  get busy(): number {
    return this.#busy
  }
}
