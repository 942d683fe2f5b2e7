// KISS framing (K9NG and KA9Q, 1987), as RNode firmware and most LoRa TNCs
// speak it on their serial port. A frame is FEND, a command byte, the data
// with FEND and FESC escaped, FEND. Command 0x00 on port 0 carries a frame
// for the air; RNode uses further command bytes to set up the radio
// (rnode.ts).

export const FEND = 0xc0
export const FESC = 0xdb
export const TFEND = 0xdc
export const TFESC = 0xdd

/** The KISS command that carries data for the air (port 0). */
export const CMD_DATA = 0x00

export interface KissFrame {
  command: number
  data: Buffer
}

/** One frame as it goes on the serial line: FEND, command, escaped data, FEND. */
export function kissEncode(data: Uint8Array, command = CMD_DATA): Buffer {
  const out: number[] = [FEND, command]
  for (const b of data) {
    if (b === FEND) out.push(FESC, TFEND)
    else if (b === FESC) out.push(FESC, TFESC)
    else out.push(b)
  }
  out.push(FEND)
  return Buffer.from(out)
}

/**
 * Reads frames out of a serial byte stream, which arrives in chunks cut
 * anywhere. Bytes before the first FEND are line noise and dropped; an
 * empty frame (FEND FEND) is the usual idle filler and yields nothing; a
 * FESC followed by anything but TFEND or TFESC is a broken frame, dropped
 * whole rather than guessed at. A frame longer than `maxFrame` is dropped
 * too: a TNC never sends one, so it is noise, and a stream without FENDs
 * must not grow a buffer without end.
 */
export class KissDecoder {
  private buf: number[] = []
  private inFrame = false
  private escaped = false
  private broken = false
  /** Frames dropped as broken or oversized since the decoder was made. */
  dropped = 0

  constructor(private readonly maxFrame = 1024) {}

  push(chunk: Uint8Array): KissFrame[] {
    const frames: KissFrame[] = []
    for (const b of chunk) {
      if (b === FEND) {
        if (this.inFrame && this.buf.length > 0) {
          if (this.broken || this.escaped) this.dropped++
          else frames.push({ command: this.buf[0]!, data: Buffer.from(this.buf.slice(1)) })
        }
        this.inFrame = true
        this.buf = []
        this.escaped = false
        this.broken = false
        continue
      }
      if (!this.inFrame || this.broken) continue
      if (this.escaped) {
        this.escaped = false
        if (b === TFEND) this.add(FEND)
        else if (b === TFESC) this.add(FESC)
        else this.broken = true
        continue
      }
      if (b === FESC) this.escaped = true
      else this.add(b)
    }
    return frames
  }

  private add(b: number): void {
    // +1: the command byte is not part of the frame's data.
    if (this.buf.length >= this.maxFrame + 1) {
      this.broken = true
      return
    }
    this.buf.push(b)
  }
}
