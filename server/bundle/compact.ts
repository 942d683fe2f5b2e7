// The compact carriage form of a sealed bundle, for carriers that count
// every byte (the LoRa link). It is not another bundle format: it is a
// deterministic, lossless re-encoding of the exact bytes of a bundle file,
// and the receiver expands it back to those bytes before anything else
// looks at them. The signature, the age file and every exactly-once rule
// apply to the expanded bundle unchanged; a compact form that does not
// expand to the signed original fails the signature check like any damaged
// bundle.
//
// What goes: the bundle's frame (magic, lengths and their CRC: 33 bytes,
// all implied), the header as JSON (about 195 bytes, as binary about 40),
// and the age header as text (168 bytes of base64 for one X25519 stanza,
// as raw bytes 96). What stays as it is: the age payload (nonce, ciphertext
// and tags) and the Ed25519 signature, which no encoding can shrink.
//
// The layout (docs/bundle-format.md, "Compact carriage form"):
//
//   version:u8 = 1        a bundle file begins with "O" (0x4f): never 1
//   flags:u8              bit 0: kind "ack" (else "mail"); bit 1: enc "narrow-1"
//   id[16]                the header's 32 hex digits as bytes
//   origin                u8 length, then the name in ASCII
//   destination           u8 length, then the name in ASCII
//   created               varint (LEB128), milliseconds
//   expires − created     varint
//   hops, hopLimit, count varints
//   share[32] body[32]    the age header's one X25519 stanza, unpacked from base64
//   mac[32]               the age header's MAC, unpacked from base64
//   rest…                 the age payload as it is: nonce, chunks, tags
//   signature[64]         the bundle's signature as it is
//
// The header's "v" is always 1: a bundle of another version is sent as it
// is. So is any bundle this form cannot reproduce byte for byte (a field it
// does not know, JSON laid out otherwise, another kind of age stanza): the
// sender expands every compact form it makes and compares it with the
// original before choosing it (compactBundle).
import { crc32 } from 'node:zlib'
import { OutpostError } from '../base/errors.js'
import { FORMAT_VERSION, FRAME_BYTES, MAGIC, MAX_HEADER_BYTES, NARROW_ENCODING, SIGNATURE_BYTES } from './format.js'

export const COMPACT_VERSION = 1
const FLAG_ACK = 0x01
const FLAG_NARROW = 0x02
const KNOWN_FLAGS = FLAG_ACK | FLAG_NARROW
const ID_BYTES = 16
const KEY_BYTES = 32
/** What age's header says, before and between the parts that vary. */
const AGE_INTRO = 'age-encryption.org/v1\n-> X25519 '
const AGE_HEADER = /^age-encryption\.org\/v1\n-> X25519 ([A-Za-z0-9+/]{43})\n([A-Za-z0-9+/]{43})\n--- ([A-Za-z0-9+/]{43})\n/
/** The age payload is at least its 16-byte nonce and one 16-byte tag. */
const MIN_REST = 32

export class CompactBundleError extends OutpostError {
  override name = 'CompactBundleError'
}

/** Whether `bytes` are a compact form (a bundle file begins with "OUTPOST-BUNDLE "). */
export function isCompactForm(bytes: Buffer): boolean {
  return bytes.length > 0 && bytes[0] === COMPACT_VERSION
}

interface Parts {
  kind: 'mail' | 'ack'
  narrow: boolean
  id: Buffer
  origin: string
  destination: string
  created: number
  expires: number
  hops: number
  hopLimit: number
  count: number
  share: Buffer
  body: Buffer
  mac: Buffer
  rest: Buffer
  signature: Buffer
}

const HEADER_KEYS = ['v', 'id', 'kind', 'origin', 'destination', 'created', 'expires', 'hops', 'hopLimit', 'count']

/**
 * The compact form of a bundle file, or why it must go as it is. The form
 * is chosen only when it expands to exactly these bytes.
 */
export function compactBundle(bundle: Buffer): { compact: Buffer } | { unchanged: string } {
  let parts: Parts
  try {
    parts = splitBundle(bundle)
  } catch (err) {
    return { unchanged: (err as Error).message }
  }
  const compact = writeCompact(parts)
  let again: Buffer
  try {
    again = expandBundle(compact)
  } catch (err) {
    return { unchanged: `its compact form does not expand (${(err as Error).message})` }
  }
  if (!again.equals(bundle)) return { unchanged: 'its compact form does not expand to the same bytes' }
  return { compact }
}

/** The parts of a bundle file the compact form keeps; throws a sentence when it cannot keep them all. */
function splitBundle(b: Buffer): Parts {
  if (b.length < FRAME_BYTES + SIGNATURE_BYTES || !b.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`it is not a version ${FORMAT_VERSION} bundle`)
  if (crc32(b.subarray(0, FRAME_BYTES - 4)) !== b.readUInt32BE(FRAME_BYTES - 4)) throw new Error('its frame fails its CRC')
  const headerLength = b.readUInt32BE(MAGIC.length)
  const cipherLength = b.readBigUInt64BE(MAGIC.length + 4)
  if (headerLength > MAX_HEADER_BYTES || BigInt(b.length) !== BigInt(FRAME_BYTES + headerLength + SIGNATURE_BYTES) + cipherLength) throw new Error('its lengths do not add up')
  let h: Record<string, unknown>
  try {
    h = JSON.parse(b.toString('utf8', FRAME_BYTES, FRAME_BYTES + headerLength)) as Record<string, unknown>
  } catch {
    throw new Error('its header is not JSON')
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new Error('its header is not a JSON object')
  const keys = Object.keys(h)
  const expected = h.enc === undefined ? HEADER_KEYS : [...HEADER_KEYS, 'enc']
  if (keys.length !== expected.length || keys.some((k, i) => k !== expected[i])) throw new Error(`its header has the fields ${keys.join(', ')}, not the ones this form knows`)
  const uint = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0
  const name = (v: unknown) => typeof v === 'string' && /^[\x21-\x7e]{1,255}$/.test(v)
  if (h.v !== FORMAT_VERSION || typeof h.id !== 'string' || !/^[0-9a-f]{32}$/.test(h.id) || (h.kind !== 'mail' && h.kind !== 'ack')) throw new Error('its header is not one this form knows')
  if (!name(h.origin) || !name(h.destination)) throw new Error('its node names are not short ASCII')
  if (![h.created, h.expires, h.hops, h.hopLimit, h.count].every(uint) || (h.expires as number) <= (h.created as number)) throw new Error('its header numbers are not ones this form knows')
  if (h.enc !== undefined && h.enc !== NARROW_ENCODING) throw new Error(`its payload encoding ${JSON.stringify(h.enc)} is not one this form knows`)
  const age = b.subarray(FRAME_BYTES + headerLength, b.length - SIGNATURE_BYTES)
  const m = AGE_HEADER.exec(age.toString('latin1', 0, Math.min(age.length, 200)))
  if (!m) throw new Error('its age header is not one X25519 stanza')
  const rest = age.subarray(m[0].length)
  if (rest.length < MIN_REST) throw new Error('its age payload is shorter than a nonce and a tag')
  return {
    kind: h.kind,
    narrow: h.enc === NARROW_ENCODING,
    id: Buffer.from(h.id, 'hex'),
    origin: h.origin as string,
    destination: h.destination as string,
    created: h.created as number,
    expires: h.expires as number,
    hops: h.hops as number,
    hopLimit: h.hopLimit as number,
    count: h.count as number,
    share: Buffer.from(m[1]!, 'base64'),
    body: Buffer.from(m[2]!, 'base64'),
    mac: Buffer.from(m[3]!, 'base64'),
    rest,
    signature: b.subarray(b.length - SIGNATURE_BYTES),
  }
}

function varint(n: number): Buffer {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Buffer.from(out)
}

function writeCompact(p: Parts): Buffer {
  const str = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')])
  return Buffer.concat([
    Buffer.from([COMPACT_VERSION, (p.kind === 'ack' ? FLAG_ACK : 0) | (p.narrow ? FLAG_NARROW : 0)]),
    p.id,
    str(p.origin),
    str(p.destination),
    varint(p.created),
    varint(p.expires - p.created),
    varint(p.hops),
    varint(p.hopLimit),
    varint(p.count),
    p.share,
    p.body,
    p.mac,
    p.rest,
    p.signature,
  ])
}

/** Reads the compact form, one field at a time, refusing anything it could not have written. */
class Reader {
  at = 0
  constructor(private readonly b: Buffer) {}

  fail(what: string): never {
    throw new CompactBundleError(`the compact bundle is damaged: ${what} (at byte ${this.at} of ${this.b.length}); it was refused, ask the sender to send it again`)
  }

  bytes(n: number, what: string): Buffer {
    if (this.at + n > this.b.length) this.fail(`it ends inside its ${what}`)
    const out = this.b.subarray(this.at, this.at + n)
    this.at += n
    return out
  }

  u8(what: string): number {
    return this.bytes(1, what)[0]!
  }

  name(what: string): string {
    const n = this.u8(what)
    const s = this.bytes(n, what).toString('latin1')
    if (!/^[\x21-\x7e]{1,255}$/.test(s)) this.fail(`its ${what} is not a node name`)
    return s
  }

  varint(what: string): number {
    let n = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const byte = this.u8(what)
      n += (byte & 0x7f) * scale
      if (!(byte & 0x80)) {
        // The shortest form only: one number, one encoding.
        if (byte === 0 && i > 0) this.fail(`its ${what} is not written in the shortest form`)
        if (!Number.isSafeInteger(n)) this.fail(`its ${what} is too large`)
        return n
      }
      scale *= 0x80
    }
    return this.fail(`its ${what} is too long`)
  }
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '')

/**
 * The bundle file a compact form stands for, byte for byte. Nothing here is
 * trusted: the caller imports what comes out through the normal path, which
 * checks the signature over these bytes before it decrypts anything.
 * Throws CompactBundleError for anything damaged or truncated.
 */
export function expandBundle(compact: Buffer): Buffer {
  const r = new Reader(compact)
  const version = r.u8('version')
  if (version !== COMPACT_VERSION) r.fail(`it is compact form version ${version}, not ${COMPACT_VERSION}`)
  const flags = r.u8('flags')
  if (flags & ~KNOWN_FLAGS) r.fail(`its flags 0x${flags.toString(16)} are not ones this node knows`)
  const ack = (flags & FLAG_ACK) !== 0
  const narrow = (flags & FLAG_NARROW) !== 0
  if (ack && narrow) r.fail('it says an ack bundle has a narrow payload')
  const id = r.bytes(ID_BYTES, 'id').toString('hex')
  const origin = r.name('origin')
  const destination = r.name('destination')
  const created = r.varint('creation time')
  const lifetime = r.varint('lifetime')
  if (lifetime === 0) r.fail('its lifetime is zero')
  const expires = created + lifetime
  if (!Number.isSafeInteger(expires)) r.fail('its expiry time is too large')
  const hops = r.varint('hops')
  const hopLimit = r.varint('hop limit')
  const count = r.varint('count')
  const share = r.bytes(KEY_BYTES, 'age stanza')
  const body = r.bytes(KEY_BYTES, 'age stanza')
  const mac = r.bytes(KEY_BYTES, 'age header MAC')
  if (compact.length - r.at < MIN_REST + SIGNATURE_BYTES) r.fail('it ends before its age payload and signature')
  const rest = compact.subarray(r.at, compact.length - SIGNATURE_BYTES)
  const signature = compact.subarray(compact.length - SIGNATURE_BYTES)
  // The same fields in the same order as format.ts's assembleBundle writes them.
  const json = Buffer.from(
    JSON.stringify({ v: FORMAT_VERSION, id, kind: ack ? 'ack' : 'mail', origin, destination, created, expires, hops, hopLimit, count, ...(narrow ? { enc: NARROW_ENCODING } : {}) }),
    'utf8',
  )
  const ageHeader = Buffer.from(`${AGE_INTRO}${b64(share)}\n${b64(body)}\n--- ${b64(mac)}\n`, 'latin1')
  const cipherLength = ageHeader.length + rest.length
  const out = Buffer.allocUnsafe(FRAME_BYTES + json.length + cipherLength + SIGNATURE_BYTES)
  let at = MAGIC.copy(out, 0)
  at = out.writeUInt32BE(json.length, at)
  at = out.writeBigUInt64BE(BigInt(cipherLength), at)
  at = out.writeUInt32BE(crc32(out.subarray(0, at)), at)
  at += json.copy(out, at)
  at += ageHeader.copy(out, at)
  at += rest.copy(out, at)
  signature.copy(out, at)
  return out
}
