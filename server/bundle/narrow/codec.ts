// The narrow encoding of a bundle's plain payload (its BSMTP batch), for
// carriers that count every byte, such as a LoRa radio. Three steps, each
// lossless, each measured in bench/lora.ts:
//
// 1. OpenPGP armor goes as binary plus the shape that rebuilds it
//    (armor.ts): base64 costs a third more, and its line endings more.
// 2. An Autocrypt key the peer node already holds goes as a 12-byte
//    reference to it (autocrypt-key.ts); one it may not hold goes whole.
// 3. What is left (headers, MIME structure, envelope) is deflated with a
//    preset dictionary made from real Delta Chat messages (dictionary.ts):
//    a short message is too small for a compressor to learn its own
//    structure, so it starts from ours.
//
// The encoder proves its work: it decodes what it made and compares it
// with the input, and on any difference sends the input as one literal.
// Records (before deflate), after a version byte:
//   0x4c 'L' literal   varint length, bytes
//   0x41 'A' armor     flags (1 CRLF, 2 CRC line), line length, varint length, binary
//   0x4b 'K' key       flags (1 CRLF, 2 tab), first, line length, varint length, binary
//   0x52 'R' key ref   flags, first, line length, 12-byte reference
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { armorBody, nextArmorBody } from './armor.js'
import { foldKey, KEY_REF_BYTES, keyRef, nextFoldedKey } from './autocrypt-key.js'
import { NARROW_DICTIONARY } from './dictionary.js'

export const NARROW_VERSION = 1

/** What the encoding's steps leave on: for measuring each step. */
export interface NarrowSteps {
  armor: boolean
  keyRefs: boolean
  dictionary: boolean
}
const ALL_STEPS: NarrowSteps = { armor: true, keyRefs: true, dictionary: true }

export interface NarrowEncoded {
  bytes: Buffer
  /** Keys sent whole, by reference: once the peer has stored this payload, it holds them. */
  keysSent: Map<string, Buffer>
  /** References sent in place of keys. */
  refsSent: string[]
}

export interface NarrowDecoded {
  plain: Buffer
  /** Keys that came whole, by reference: the receiver keeps them for later references. */
  keysReceived: Map<string, Buffer>
}

/** A reference the receiver holds no key for: the payload cannot be rebuilt, and the sender must send those keys whole. */
export class UnknownKeyRefError extends Error {
  override name = 'UnknownKeyRefError'
  constructor(readonly refs: string[]) {
    super(`the payload refers to ${refs.length} Autocrypt key(s) this node does not hold (${refs.join(', ')}); the sender must send them whole`)
  }
}

function varint(n: number): Buffer {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Buffer.from(out)
}

/** The records before deflate: for the bench, and for building the dictionary. */
export function narrowRecords(plain: Buffer, peerHasKey: (ref: string) => boolean, steps: NarrowSteps = ALL_STEPS): NarrowEncoded {
  const text = plain.toString('latin1')
  const parts: Buffer[] = [Buffer.from([NARROW_VERSION])]
  const keysSent = new Map<string, Buffer>()
  const refsSent: string[] = []
  const literal = (from: number, to: number) => {
    if (to > from) parts.push(Buffer.from('L', 'latin1'), varint(to - from), plain.subarray(from, to))
  }
  let at = 0
  for (;;) {
    const armor = steps.armor ? nextArmorBody(text, at) : undefined
    const key = steps.keyRefs || steps.armor ? nextFoldedKey(text, at) : undefined
    if (key && (!armor || key.start < armor.start)) {
      literal(at, key.start)
      const flags = (key.fold.crlf ? 1 : 0) | (key.fold.tab ? 2 : 0)
      const ref = keyRef(key.binary)
      if (steps.keyRefs && peerHasKey(ref)) {
        parts.push(Buffer.from([0x52, flags, key.fold.first, key.fold.lineLength]), Buffer.from(ref, 'hex'))
        refsSent.push(ref)
      } else {
        parts.push(Buffer.from([0x4b, flags, key.fold.first, key.fold.lineLength]), varint(key.binary.length), key.binary)
        keysSent.set(ref, key.binary)
      }
      at = key.end
    } else if (armor) {
      literal(at, armor.start)
      parts.push(Buffer.from([0x41, (armor.shape.crlf ? 1 : 0) | (armor.shape.crc ? 2 : 0), armor.shape.lineLength]), varint(armor.binary.length), armor.binary)
      at = armor.end
    } else break
  }
  literal(at, plain.length)
  return { bytes: Buffer.concat(parts), keysSent, refsSent }
}

/** Rebuilds the plain payload from records; `keyFor` looks a reference up. */
export function fromRecords(records: Buffer, keyFor: (ref: string) => Buffer | undefined, maxBytes: number): NarrowDecoded {
  if (records[0] !== NARROW_VERSION) throw new Error(`the narrow payload is version ${records[0]}, not ${NARROW_VERSION}; update Outpost on this node`)
  const out: Buffer[] = []
  let size = 0
  const keysReceived = new Map<string, Buffer>()
  const missing: string[] = []
  let at = 1
  const byte = () => {
    if (at >= records.length) throw new Error('the narrow payload is truncated')
    return records[at++]!
  }
  const readVarint = () => {
    let n = 0
    for (let mult = 1; ; mult *= 128) {
      const b = byte()
      n += (b & 0x7f) * mult
      if (!(b & 0x80)) break
      if (mult > 2 ** 35) throw new Error('the narrow payload has a length out of range')
    }
    return n
  }
  const take = (n: number) => {
    if (at + n > records.length) throw new Error('the narrow payload is truncated')
    const b = records.subarray(at, at + n)
    at += n
    return b
  }
  const emit = (b: Buffer) => {
    size += b.length
    if (size > maxBytes) throw new RangeError(`the narrow payload unpacks to more than ${maxBytes} bytes`)
    out.push(b)
  }
  while (at < records.length) {
    const tag = byte()
    if (tag === 0x4c) emit(Buffer.from(take(readVarint())))
    else if (tag === 0x41) {
      const flags = byte()
      const lineLength = byte()
      if (lineLength === 0) throw new Error('the narrow payload has an armor of line length 0')
      emit(Buffer.from(armorBody(take(readVarint()), { crlf: (flags & 1) !== 0, crc: (flags & 2) !== 0, lineLength }), 'latin1'))
    } else if (tag === 0x4b || tag === 0x52) {
      const flags = byte()
      const first = byte()
      const lineLength = byte()
      if (lineLength === 0) throw new Error('the narrow payload has a key of line length 0')
      const fold = { crlf: (flags & 1) !== 0, tab: (flags & 2) !== 0, first, lineLength }
      let key: Buffer | undefined
      if (tag === 0x4b) {
        key = Buffer.from(take(readVarint()))
        keysReceived.set(keyRef(key), key)
      } else {
        const ref = take(KEY_REF_BYTES).toString('hex')
        // A key is taken for a reference only if it hashes to it.
        const held = keysReceived.get(ref) ?? keyFor(ref)
        key = held && keyRef(held) === ref ? held : undefined
        if (!key) {
          missing.push(ref)
          continue
        }
      }
      emit(Buffer.from(foldKey(key, fold), 'latin1'))
    } else throw new Error(`the narrow payload has an unknown record 0x${tag.toString(16)}`)
  }
  if (missing.length) throw new UnknownKeyRefError([...new Set(missing)])
  return { plain: Buffer.concat(out), keysReceived }
}

const DEFLATE = { level: 9, memLevel: 9, windowBits: 15 } as const

/**
 * Encodes a plain payload for a narrow carrier. `peerHasKey` says which
 * keys (by reference) the peer is known to hold; anything it answers false
 * for goes whole.
 */
export function encodeNarrow(plain: Buffer, peerHasKey: (ref: string) => boolean = () => false, steps: NarrowSteps = ALL_STEPS): NarrowEncoded {
  let enc = narrowRecords(plain, peerHasKey, steps)
  // The proof that the receiver gets these very bytes back: the keys
  // referred to are the ones in this payload.
  const text = plain.toString('latin1')
  const ownKeys = new Map<string, Buffer>()
  for (let k = nextFoldedKey(text, 0); k; k = nextFoldedKey(text, k.end)) ownKeys.set(keyRef(k.binary), k.binary)
  const own = (ref: string) => ownKeys.get(ref)
  let back: Buffer | undefined
  try {
    back = fromRecords(enc.bytes, own, plain.length).plain
  } catch {
    back = undefined
  }
  if (!back?.equals(plain)) enc = { bytes: Buffer.concat([Buffer.from([NARROW_VERSION, 0x4c]), varint(plain.length), plain]), keysSent: new Map(), refsSent: [] }
  const bytes = steps.dictionary ? deflateRawSync(enc.bytes, { ...DEFLATE, dictionary: NARROW_DICTIONARY }) : deflateRawSync(enc.bytes, DEFLATE)
  return { ...enc, bytes }
}

/** Decodes a narrow payload; throws UnknownKeyRefError when it refers to keys `keyFor` does not know. */
export function decodeNarrow(bytes: Buffer, keyFor: (ref: string) => Buffer | undefined, maxBytes: number): NarrowDecoded {
  // The records are at most the plain payload plus a few bytes a record: bound the inflate by that.
  const records = inflateRawSync(bytes, { dictionary: NARROW_DICTIONARY, maxOutputLength: maxBytes + 1024 * 1024 })
  return fromRecords(records, keyFor, maxBytes)
}
