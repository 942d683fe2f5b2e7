// The message of a Haraka transaction as one buffer, for delivery and for
// the uplink.
import { Writable } from 'node:stream'
import type { MessageStream } from './haraka-api.js'

/** Reads the whole message once (Haraka's stream cannot be piped twice at once), refusing more than maxBytes. */
export function readMessage(stream: MessageStream, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        size += chunk.length
        if (size > maxBytes) {
          failed = true
          done(new Error(`the message is larger than the ${maxBytes}-byte limit while being read for delivery`))
          return
        }
        chunks.push(chunk)
        done()
      },
    })
    sink.once('finish', () => {
      if (!failed) resolve(Buffer.concat(chunks, size))
    })
    sink.once('error', (err) => {
      failed = true
      stream.unpipe?.()
      reject(err)
    })
    stream.pipe(sink, { line_endings: '\r\n' })
  })
}
