// The link's frames: what one KISS data frame carries over the air. Every
// frame ends in a CRC-32 of all before it; a frame whose CRC fails, whose
// fields do not agree, or that belongs to another pair of nodes is
// ignored. The layout (all integers big-endian):
//
//   DATA   'D' flags link[4] id[8] total:u32 index:u16 count:u16 data… crc:u32
//   SHORT  'd' flags id[8] index:u16                             data… crc:u32
//   QUERY  'Q' flags link[4] id[8] total:u32 count:u16               crc:u32
//   ACK    'A' status link[4] id[8] count:u16 base:u16 bitmap…       crc:u32
//
// `id` is the first 8 bytes of the SHA-256 of the whole bundle: the
// receiver checks the reassembled bytes against it before importing, so a
// frame that slipped past its CRC cannot make a wrong bundle. `link` tells
// this pair of nodes from others on the same channel. Fragments are all
// `ceil(total / count)` bytes long but the last. An ACK says every fragment
// below `base` is held, and bit i of the bitmap (LSB first) that fragment
// base + i is.
//
// Flags: bit 0 (DATA and SHORT) asks for an ACK; bit 1 says the sending
// node takes bundles in their compact carriage form (bundle/compact.ts);
// bit 2 (QUERY and DATA) says the sending node can send SHORT frames. A
// node of an older version sends 0 in QUERY and only bit 0 in DATA, and
// ignores the bits it does not know, so the flags are how the two ends
// agree on the compact form and on SHORT frames without a handshake of
// their own.
//
// SHORT is a DATA frame without the 10 bytes the QUERY that opened the
// transfer already said: the link id, the total length and the fragment
// count. The receiver takes one only for a transfer whose QUERY (or a full
// DATA frame) it heard since its radio was opened, and reads those fields
// from there; any other SHORT frame (after a restart, of another pair of
// nodes, replayed from long ago) is ignored, so the sender's poll goes
// unanswered and it asks again with a QUERY, which the receiver answers
// with what it holds. It is sent only once the receiver has said it takes
// them: bit 7 of an ACK's status byte, set only in answer to a frame whose
// sender said (bit 2, or a SHORT frame) that it can send them, so a sender
// of an older version never sees the bit, and a receiver of an older
// version never sets it and keeps getting full DATA frames.
import { crc32 } from 'node:zlib'
import { createHash } from 'node:crypto'

export const KIND_DATA = 0x44
export const KIND_QUERY = 0x51
export const KIND_ACK = 0x41
export const KIND_SHORT_DATA = 0x64
export const FLAG_POLL = 0x01
export const FLAG_TAKES_COMPACT = 0x02
export const FLAG_SENDS_SHORT = 0x04
/** In an ACK's status byte: the receiver takes SHORT frames for this transfer. */
export const ACK_TAKES_SHORT = 0x80

export const ACK_PARTIAL = 0
/** The bundle was taken in (imported, a duplicate, relayed or quarantined): never send it again. */
export const ACK_DONE = 1
/** Whole, but the node could not take it now (exit 75 of an import): keep it and try a later run. */
export const ACK_DEFERRED = 2
/** Refused: larger than the receiver accepts. */
export const ACK_REFUSED = 3
/** Whole and being imported: ask again shortly. */
export const ACK_IMPORTING = 4

export const DATA_HEADER = 22
export const SHORT_DATA_HEADER = 12
export const QUERY_LENGTH = 24
export const ACK_HEADER = 18
export const CRC_LENGTH = 4

export type LinkFrame =
  | { kind: 'data'; poll: boolean; takesCompact?: boolean; sendsShort?: boolean; link: Buffer; id: Buffer; total: number; index: number; count: number; data: Buffer }
  | { kind: 'short'; poll: boolean; takesCompact?: boolean; id: Buffer; index: number; data: Buffer }
  | { kind: 'query'; takesCompact?: boolean; sendsShort?: boolean; link: Buffer; id: Buffer; total: number; count: number }
  | { kind: 'ack'; status: number; takesShort?: boolean; link: Buffer; id: Buffer; count: number; base: number; bitmap: Buffer }

/** The link id of two nodes: the same on both sides, whoever sends. */
export function linkId(a: string, b: string): Buffer {
  return createHash('sha256').update([a, b].sort().join('\n')).digest().subarray(0, 4)
}

export function transferId(bundle: Buffer): Buffer {
  return createHash('sha256').update(bundle).digest().subarray(0, 8)
}

/** Bytes of bundle per fragment for a radio payload, and how many fragments a bundle needs. */
export function fragmentPlan(total: number, payload: number): { count: number; size: number } {
  const max = payload - DATA_HEADER - CRC_LENGTH
  if (max < 1) throw new Error(`a radio payload of ${payload} bytes cannot carry the link's ${DATA_HEADER + CRC_LENGTH} bytes of framing`)
  const count = Math.max(1, Math.ceil(total / max))
  return { count, size: Math.ceil(total / count) }
}

/** The length of fragment `index`; -1 when the plan cannot hold it. */
export function fragmentLength(total: number, count: number, index: number): number {
  const size = Math.ceil(total / count)
  const start = index * size
  if (index < 0 || index >= count || start >= total) return -1
  return Math.min(size, total - start)
}

function seal(body: Buffer): Buffer {
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([body, crc])
}

export function encodeFrame(f: LinkFrame): Buffer {
  if (f.kind === 'data') {
    const h = Buffer.alloc(DATA_HEADER)
    h[0] = KIND_DATA
    h[1] = (f.poll ? FLAG_POLL : 0) | (f.takesCompact ? FLAG_TAKES_COMPACT : 0) | (f.sendsShort ? FLAG_SENDS_SHORT : 0)
    f.link.copy(h, 2)
    f.id.copy(h, 6)
    h.writeUInt32BE(f.total, 14)
    h.writeUInt16BE(f.index, 18)
    h.writeUInt16BE(f.count, 20)
    return seal(Buffer.concat([h, f.data]))
  }
  if (f.kind === 'query') {
    const h = Buffer.alloc(QUERY_LENGTH - CRC_LENGTH)
    h[0] = KIND_QUERY
    h[1] = (f.takesCompact ? FLAG_TAKES_COMPACT : 0) | (f.sendsShort ? FLAG_SENDS_SHORT : 0)
    f.link.copy(h, 2)
    f.id.copy(h, 6)
    h.writeUInt32BE(f.total, 14)
    h.writeUInt16BE(f.count, 18)
    return seal(h)
  }
  if (f.kind === 'short') {
    const h = Buffer.alloc(SHORT_DATA_HEADER)
    h[0] = KIND_SHORT_DATA
    h[1] = (f.poll ? FLAG_POLL : 0) | (f.takesCompact ? FLAG_TAKES_COMPACT : 0)
    f.id.copy(h, 2)
    h.writeUInt16BE(f.index, 10)
    return seal(Buffer.concat([h, f.data]))
  }
  const h = Buffer.alloc(ACK_HEADER)
  h[0] = KIND_ACK
  h[1] = (f.status & ~ACK_TAKES_SHORT) | (f.takesShort ? ACK_TAKES_SHORT : 0)
  f.link.copy(h, 2)
  f.id.copy(h, 6)
  h.writeUInt16BE(f.count, 14)
  h.writeUInt16BE(f.base, 16)
  return seal(Buffer.concat([h, f.bitmap]))
}

/**
 * Reads one frame; undefined for anything that is not a well-formed frame
 * (a bad CRC, a truncated frame, fields that disagree). A SHORT frame's
 * data length can only be checked against its transfer's plan, which the
 * link holds.
 */
export function decodeFrame(b: Buffer): LinkFrame | undefined {
  if (b.length < SHORT_DATA_HEADER + 1 + CRC_LENGTH) return undefined
  const body = b.subarray(0, b.length - CRC_LENGTH)
  if (crc32(body) !== b.readUInt32BE(b.length - CRC_LENGTH)) return undefined
  if (body[0] === KIND_SHORT_DATA) {
    const flags = body[1]!
    return { kind: 'short', poll: (flags & FLAG_POLL) !== 0, takesCompact: (flags & FLAG_TAKES_COMPACT) !== 0, id: Buffer.from(body.subarray(2, 10)), index: body.readUInt16BE(10), data: Buffer.from(body.subarray(SHORT_DATA_HEADER)) }
  }
  if (b.length < ACK_HEADER + CRC_LENGTH) return undefined
  const link = Buffer.from(body.subarray(2, 6))
  const id = Buffer.from(body.subarray(6, 14))
  if (body[0] === KIND_DATA) {
    if (body.length < DATA_HEADER + 1) return undefined
    const total = body.readUInt32BE(14)
    const index = body.readUInt16BE(18)
    const count = body.readUInt16BE(20)
    const data = Buffer.from(body.subarray(DATA_HEADER))
    if (count < 1 || fragmentLength(total, count, index) !== data.length) return undefined
    return { kind: 'data', poll: (body[1]! & FLAG_POLL) !== 0, takesCompact: (body[1]! & FLAG_TAKES_COMPACT) !== 0, sendsShort: (body[1]! & FLAG_SENDS_SHORT) !== 0, link, id, total, index, count, data }
  }
  if (body[0] === KIND_QUERY) {
    if (body.length !== QUERY_LENGTH - CRC_LENGTH) return undefined
    const total = body.readUInt32BE(14)
    const count = body.readUInt16BE(18)
    if (count < 1 || fragmentLength(total, count, count - 1) < 1) return undefined
    return { kind: 'query', takesCompact: (body[1]! & FLAG_TAKES_COMPACT) !== 0, sendsShort: (body[1]! & FLAG_SENDS_SHORT) !== 0, link, id, total, count }
  }
  if (body[0] === KIND_ACK) {
    if (body.length < ACK_HEADER) return undefined
    return { kind: 'ack', status: body[1]! & ~ACK_TAKES_SHORT, takesShort: (body[1]! & ACK_TAKES_SHORT) !== 0, link, id, count: body.readUInt16BE(14), base: body.readUInt16BE(16), bitmap: Buffer.from(body.subarray(ACK_HEADER)) }
  }
  return undefined
}
