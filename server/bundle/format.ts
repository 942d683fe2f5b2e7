// Sealing and opening bundles: the files that carry mail (and acks) between
// nodes on a USB stick, over NNCP, Syncthing or anything else that moves
// files. docs/bundle-format.md is the specification; this module is one
// implementation of it and must stay in step with it.
//
// A bundle is: magic line, lengths (with a CRC), header JSON, an age file
// holding the brotli-compressed payload, and an Ed25519 signature over all
// of that. The signature is checked before anything is decrypted or
// decompressed, so a forged, foreign or damaged file costs one hash and one
// signature check, never a decryption or a decompression.
//
// This module does no I/O: callers hand it bytes (or, to seal mail, the
// messages one at a time) and write what it returns with writeFileDurable
// (tmp → fsync → rename → fsync dir).
import { randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { brotliCompress, brotliDecompress, createBrotliCompress, constants as zlibConstants, crc32 } from 'node:zlib'
import type { Writable } from 'node:stream'
// age-encryption (with its post-quantum code) costs about 16 MB of memory
// once loaded; it is loaded on the first seal or open, not at start-up.
const age = () => import('age-encryption')
import { decryptAgePayload, splitAgeFile } from './age-payload.js'
import { BSMTP_QUIT, BsmtpError, bsmtpMessageParts, parseBsmtp, type BsmtpLimits, type BsmtpMessage } from './bsmtp.js'
import { MESSAGE_ID_PATTERN } from './message-id.js'
import { decodeNarrow, encodeNarrow, UnknownKeyRefError, type NarrowEncoded } from './narrow/codec.js'
import { isNodeName, MAX_NODE_NAME } from '../identity/name.js'
import { OutpostError } from '../base/errors.js'

const compress = promisify(brotliCompress)
const decompress = promisify(brotliDecompress)

export const FORMAT_VERSION = 1
/** "OUTPOST-BUNDLE 1\n": 17 bytes. */
export const MAGIC = Buffer.from(`OUTPOST-BUNDLE ${FORMAT_VERSION}\n`, 'latin1')
const MAGIC_PREFIX = Buffer.from('OUTPOST-BUNDLE ', 'latin1')
/** Magic, u32 header length, u64 ciphertext length, u32 CRC-32 of those 29 bytes. */
export const FRAME_BYTES = MAGIC.length + 4 + 8 + 4
export const SIGNATURE_BYTES = 64
/** A header is a few hundred bytes; anything near this is damage, not a header. */
export const MAX_HEADER_BYTES = 64 * 1024
export const FILE_SUFFIX = '.obundle'
/**
 * Brotli at quality 3 on a 4 MiB window. On Delta Chat traffic (OpenPGP
 * armored bodies, the same Autocrypt keys repeated in headers) every brotli
 * quality is ~11 % smaller than gzip at any level, and quality 3 packs about
 * three times as fast as gzip -6; quality 4 and up buy under 0.5 % for half
 * the speed or less. Figures: docs/bundle-format.md, bench/bundle.ts.
 */
export const BROTLI_QUALITY = 3
const BROTLI_WINDOW_BITS = 22

export type BundleKind = 'mail' | 'ack'

export interface BundleHeader {
  v: 1
  /** 128 random bits as 32 lower-case hex digits; names the bundle in acks and logs. */
  id: string
  kind: BundleKind
  /** Node name of the node that sealed and signed the bundle. */
  origin: string
  /** Node name of the only node that can decrypt it. */
  destination: string
  /** Milliseconds since the epoch, by the origin's clock. */
  created: number
  /** Milliseconds since the epoch after which the destination refuses the bundle. */
  expires: number
  /** How many nodes re-bundled these messages before the origin sealed them (0: they entered at the origin). */
  hops: number
  /** A bundle with hops above this is refused; a node re-bundles only while hops + 1 stays within it. */
  hopLimit: number
  /** Messages (mail) or acknowledged ids (ack) in the payload. */
  count: number
  /**
   * How the plain payload is packed. Absent: brotli. "narrow-1": the narrow
   * encoding for carriers that count every byte (narrow/codec.ts: armor as
   * binary, known Autocrypt keys by reference, deflate with a dictionary).
   */
  enc?: typeof NARROW_ENCODING
}

export const NARROW_ENCODING = 'narrow-1'

export interface MailPayload {
  messages: BsmtpMessage[]
}

export interface AckPayload {
  acks: {
    /** Stable ids (message-id.ts) of messages that the acking node has stored durably. */
    messageIds: string[]
    /** Ids of bundles the acking node has opened and stored in full. */
    bundleIds: string[]
  }
}

/** `kind` repeats header.kind at the top, where TypeScript can narrow `payload` on it. */
export type OpenedBundle =
  | {
    kind: 'mail'
    header: BundleHeader & { kind: 'mail' }
    payload: MailPayload
    /** Autocrypt keys a narrow payload carried whole, by reference: keep them, so later bundles may refer to them. */
    keys?: Map<string, Buffer>
  }
  | { kind: 'ack'; header: BundleHeader & { kind: 'ack' }; payload: AckPayload }

export type BundleErrorReason =
  | 'truncated'
  | 'corrupt'
  | 'unknown-signer'
  | 'bad-signature'
  | 'expired'
  | 'hop-limit'
  | 'too-large'
  | 'not-for-us'
  | 'malformed'
  | 'unknown-key'

export class BundleError extends OutpostError {
  override name = 'BundleError'
  constructor(
    readonly reason: BundleErrorReason,
    message: string,
    /** Whatever of the header could be read; absent when the file is not readable that far. */
    readonly header?: BundleHeader,
  ) {
    super(message)
  }
}

const BUNDLE_ID = /^[0-9a-f]{32}$/
/** A message routed more often than this is looping, whatever the header says. */
export const MAX_HOP_LIMIT = 255

export function newBundleId(): string {
  return randomBytes(16).toString('hex')
}

const who = (h: Pick<BundleHeader, 'id' | 'origin'>) => `bundle ${h.id} from ${h.origin}`

/** The header's fields and their ranges; returns what is wrong, or undefined. Unknown fields are ignored. */
function headerProblem(h: Record<string, unknown>): string | undefined {
  const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max
  if (h.v !== FORMAT_VERSION) return `"v" is ${JSON.stringify(h.v)}, not ${FORMAT_VERSION}`
  if (typeof h.id !== 'string' || !BUNDLE_ID.test(h.id)) return '"id" is not 32 lower-case hex digits'
  if (h.kind !== 'mail' && h.kind !== 'ack') return '"kind" is neither "mail" nor "ack"'
  if (!isNodeName(h.origin)) return `"origin" is not a node name (lower-case letters, digits, single "." or "-", at most ${MAX_NODE_NAME})`
  if (!isNodeName(h.destination)) return `"destination" is not a node name (lower-case letters, digits, single "." or "-", at most ${MAX_NODE_NAME})`
  if (!isInt(h.created, 0)) return '"created" is not a time in milliseconds'
  if (!isInt(h.expires, 0) || (h.expires as number) <= (h.created as number)) return '"expires" is not a time in milliseconds after "created"'
  if (!isInt(h.hopLimit, 0, MAX_HOP_LIMIT)) return `"hopLimit" is not a whole number from 0 to ${MAX_HOP_LIMIT}`
  if (!isInt(h.hops, 0, MAX_HOP_LIMIT + 1)) return '"hops" is not a whole number from 0'
  if (!isInt(h.count, 0)) return '"count" is not a whole number from 0'
  if (h.enc !== undefined && h.enc !== NARROW_ENCODING) return `"enc" is ${JSON.stringify(h.enc)}, a payload encoding this node does not read (it reads "${NARROW_ENCODING}"); update Outpost on this node`
  if (h.enc !== undefined && h.kind !== 'mail') return '"enc" is given on an ack bundle'
  return undefined
}

function ackProblem(p: unknown): string | undefined {
  const acks = (p as AckPayload | null)?.acks
  if (typeof acks !== 'object' || acks === null) return 'it has no "acks" object'
  if (!Array.isArray(acks.messageIds) || !acks.messageIds.every((s) => typeof s === 'string' && MESSAGE_ID_PATTERN.test(s))) {
    return '"acks.messageIds" is not a list of 64-hex-digit message ids'
  }
  if (!Array.isArray(acks.bundleIds) || !acks.bundleIds.every((s) => typeof s === 'string' && BUNDLE_ID.test(s))) {
    return '"acks.bundleIds" is not a list of 32-hex-digit bundle ids'
  }
  return undefined
}

/**
 * Lays out and signs a bundle around an age ciphertext. sealBundle is the
 * way to make one; this step is exported so that tests and other tools can
 * build bundles whose payload sealBundle would never produce.
 */
export function assembleBundle(header: BundleHeader, ciphertext: Uint8Array | readonly Uint8Array[], signKey: KeyObject): Buffer {
  if (signKey.type !== 'private' || signKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`cannot sign ${who(header)}: the signing key must be an Ed25519 private key, not a ${signKey.asymmetricKeyType ?? 'secret'} ${signKey.type} key`)
  }
  const problem = headerProblem(header as unknown as Record<string, unknown>)
  if (problem) throw new Error(`cannot seal ${who(header)}: its header is invalid: ${problem}`)
  const json = Buffer.from(
    JSON.stringify({
      v: header.v,
      id: header.id,
      kind: header.kind,
      origin: header.origin,
      destination: header.destination,
      created: header.created,
      expires: header.expires,
      hops: header.hops,
      hopLimit: header.hopLimit,
      count: header.count,
      ...(header.enc !== undefined ? { enc: header.enc } : {}),
    }),
    'utf8',
  )
  // The ciphertext may come in the pieces it was encrypted in: they are
  // copied once, into the bundle, and never joined on their own first.
  const pieces = ciphertext instanceof Uint8Array ? [ciphertext] : ciphertext
  const cipherLength = pieces.reduce((n, p) => n + p.length, 0)
  const out = Buffer.allocUnsafe(FRAME_BYTES + json.length + cipherLength + SIGNATURE_BYTES)
  let at = MAGIC.copy(out, 0)
  at = out.writeUInt32BE(json.length, at)
  at = out.writeBigUInt64BE(BigInt(cipherLength), at)
  at = out.writeUInt32BE(crc32(out.subarray(0, at)), at)
  at += json.copy(out, at)
  for (const p of pieces) {
    out.set(p, at)
    at += p.length
  }
  sign(null, out.subarray(0, at), signKey).copy(out, at)
  return out
}

export interface SealInput {
  header: Omit<BundleHeader, 'v' | 'count'>
  payload: MailPayload | AckPayload
  /** The origin node's Ed25519 private key. */
  signKey: KeyObject
  /** The destination node's age X25519 recipient, "age1…". */
  recipient: string
  /** For a mail bundle: pack the payload for a narrow carrier. */
  narrow?: NarrowSealOptions
}

export interface MailSealInput {
  header: Omit<BundleHeader, 'v' | 'count'>
  /**
   * The messages, asked for one at a time while the bundle is sealed. Each
   * one is copied into the compressor before the next is asked for, so an
   * iterator may hand out every message's data in the same buffer.
   */
  messages: Iterable<BsmtpMessage>
  /** How many messages `messages` yields; the header carries it, and a different number is an error. */
  count: number
  /** About how many bytes of mail, if known: a hint that sizes the compressor's window. */
  sizeHint?: number
  /** The origin node's Ed25519 private key. */
  signKey: KeyObject
  /** The destination node's age X25519 recipient, "age1…". */
  recipient: string
  /** Pack the payload for a narrow carrier (narrow/codec.ts) rather than with brotli. */
  narrow?: NarrowSealOptions
}

export interface NarrowSealOptions {
  /** Whether the destination is known to hold this Autocrypt key (by reference); a key it may not hold goes whole. */
  peerHasKey(ref: string): boolean
  /** What the encoding did: the keys it sent whole and the references it sent. */
  onEncoded?(encoded: Omit<NarrowEncoded, 'bytes'>): void
}

/** How much BSMTP text the compressor is handed at a time: one buffer, refilled. */
const FEED_BYTES = 256 * 1024

/** Compresses, encrypts to the destination and signs as the origin. */
export async function sealBundle(input: SealInput): Promise<Buffer> {
  const { header: h, payload } = input
  if (h.kind === 'mail') {
    if (!('messages' in payload)) throw new Error(`cannot seal ${who(h)}: a mail bundle needs a payload with "messages"`)
    const sizeHint = payload.messages.reduce((n, m) => n + m.data.length, 0)
    return sealMailBundle({ header: h, messages: payload.messages, count: payload.messages.length, sizeHint, signKey: input.signKey, recipient: input.recipient, ...(input.narrow ? { narrow: input.narrow } : {}) })
  }
  if (!('acks' in payload)) throw new Error(`cannot seal ${who(h)}: an ack bundle needs a payload with "acks"`)
  const problem = ackProblem(payload)
  if (problem) throw new Error(`cannot seal ${who(h)}: ${problem}`)
  const { messageIds, bundleIds } = payload.acks
  const header = checkedHeader(h, messageIds.length + bundleIds.length)
  const plain = Buffer.from(JSON.stringify({ acks: { messageIds, bundleIds } }), 'utf8')
  const compressed = await compress(plain, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: plain.length,
    },
  })
  const ciphertext = await (await encrypterFor(h, input.recipient)).encrypt(compressed)
  return assembleBundle(header, ciphertext, input.signKey)
}

/**
 * Seals a mail bundle as a stream: messages are written as BSMTP into one
 * reused buffer, compressed as they come, and encrypted in age's 64 KiB
 * chunks, so neither the batch of mail nor its compressed form is ever
 * whole in memory. Only the ciphertext is, once, in the bundle itself:
 * Ed25519 signs a message in one piece. The bytes are the same format as
 * sealBundle's (one BSMTP batch, brotli, age), so any reader opens them.
 */
export async function sealMailBundle(input: MailSealInput): Promise<Buffer> {
  const h = input.header
  if (h.kind !== 'mail') throw new Error(`cannot seal ${who(h)} as mail: its header says "${h.kind}"`)
  if (input.narrow) return sealNarrowMailBundle(input, input.narrow)
  const header = checkedHeader(h, input.count)
  const encrypter = await encrypterFor(h, input.recipient)
  const brotli = createBrotliCompress({
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlibConstants.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: Math.min(input.sizeHint ?? 0, 2 ** 30),
    },
  })
  // The feed runs beside the reading below; its first error ends both. The
  // listener keeps an error that comes before the first read from being
  // thrown as uncaught: the read below finds the stream errored and stops.
  let feedError: unknown
  brotli.on('error', (err) => (feedError ??= err))
  const fed = feedBsmtp(brotli, input.messages, input.count, h).catch((err: unknown) => {
    feedError = err
    brotli.destroy(err as Error)
  })
  const compressed = brotli[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const source = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await compressed.next()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
      cancel() {
        brotli.destroy()
      },
    },
    // Pulled only when the cipher wants more: nothing queues up here.
    { highWaterMark: 0 },
  )
  const pieces: Uint8Array[] = []
  try {
    const reader = (await encrypter.encrypt(source)).getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      pieces.push(value)
    }
  } catch (err) {
    // A feed waiting on the compressor ends when the compressor does.
    brotli.destroy()
    await fed
    throw feedError ?? err
  }
  await fed
  if (feedError) throw feedError
  return assembleBundle(header, pieces, input.signKey)
}

/**
 * Seals a mail bundle whose payload is in the narrow encoding. A narrow
 * carrier takes small bundles, so the batch is packed whole in memory:
 * the encoding needs all of it to prove that it unpacks to the same bytes.
 */
async function sealNarrowMailBundle(input: MailSealInput, narrow: NarrowSealOptions): Promise<Buffer> {
  const h = input.header
  const header = checkedHeader({ ...h, enc: NARROW_ENCODING }, input.count)
  const parts: Buffer[] = []
  let n = 0
  for (const m of input.messages) {
    // The iterator may reuse one buffer for every message: copy each out.
    for (const part of bsmtpMessageParts(m, n)) parts.push(Buffer.from(part))
    n++
  }
  if (n !== input.count) throw new Error(`cannot seal ${who(h)}: its header counts ${input.count} messages but ${n} were given`)
  parts.push(BSMTP_QUIT)
  const { bytes, keysSent, refsSent } = encodeNarrow(Buffer.concat(parts), (ref) => narrow.peerHasKey(ref))
  narrow.onEncoded?.({ keysSent, refsSent })
  const ciphertext = await (await encrypterFor(h, input.recipient)).encrypt(bytes)
  return assembleBundle(header, ciphertext, input.signKey)
}

/** Writes the messages as one BSMTP batch into `sink`, a refilled buffer at a time, and ends it. */
async function feedBsmtp(sink: Writable, messages: Iterable<BsmtpMessage>, count: number, h: Pick<BundleHeader, 'id' | 'origin'>): Promise<void> {
  const block = Buffer.allocUnsafe(FEED_BYTES)
  let used = 0
  // The compressor calls back once it has taken the bytes in, so the buffer is free again.
  const flush = () =>
    new Promise<void>((resolve, reject) => {
      sink.write(block.subarray(0, used), (err) => (err ? reject(err) : resolve()))
      used = 0
    })
  const put = async (part: Buffer) => {
    for (let at = 0; at < part.length; ) {
      const n = part.copy(block, used, at)
      used += n
      at += n
      if (used === block.length) await flush()
    }
  }
  let n = 0
  for (const m of messages) {
    for (const part of bsmtpMessageParts(m, n)) await put(part)
    n++
  }
  if (n !== count) throw new Error(`cannot seal ${who(h)}: its header counts ${count} messages but ${n} were given`)
  await put(BSMTP_QUIT)
  if (used) await flush()
  await new Promise<void>((resolve, reject) => {
    sink.once('error', reject)
    sink.end(resolve)
  })
}

/** The full header, checked as a reader will check it. */
function checkedHeader(h: Omit<BundleHeader, 'v' | 'count'>, count: number): BundleHeader {
  const header: BundleHeader = { ...h, v: FORMAT_VERSION, count }
  const problem = headerProblem(header as unknown as Record<string, unknown>)
  if (problem) throw new Error(`cannot seal ${who(h)}: its header is invalid: ${problem}`)
  if (header.hops > header.hopLimit) throw new Error(`cannot seal ${who(h)}: hops ${header.hops} is above its hop limit ${header.hopLimit}; the messages have travelled too far to be sent on`)
  return header
}

async function encrypterFor(h: Pick<BundleHeader, 'id' | 'origin' | 'destination'>, recipient: string) {
  const { Encrypter } = await age()
  const encrypter = new Encrypter()
  try {
    encrypter.addRecipient(recipient)
  } catch (err) {
    throw new Error(`cannot seal ${who(h)} for ${h.destination}: ${JSON.stringify(recipient)} is not an age recipient (${(err as Error).message}); check the peer's "age1…" key`, { cause: err })
  }
  return encrypter
}

interface Frame {
  header: BundleHeader
  /** Everything the signature covers. */
  signed: Buffer
  ciphertext: Buffer
  signature: Buffer
}

/**
 * Checks the framing and parses the header. Nothing here is trusted yet, so
 * every failure is 'truncated' or 'corrupt': a damaged file and a forged one
 * look the same until the signature is checked.
 */
function readFrame(bytes: Buffer): Frame {
  const head = bytes.subarray(0, MAGIC_PREFIX.length)
  if (!MAGIC_PREFIX.subarray(0, head.length).equals(head)) {
    throw new BundleError('corrupt', `not an Outpost bundle: the file does not start with "${MAGIC.toString('latin1').trim()}"; move it out of the outpost folder`)
  }
  if (bytes.length < FRAME_BYTES) {
    throw new BundleError('truncated', `the bundle file is truncated: ${bytes.length} bytes, fewer than its ${FRAME_BYTES}-byte frame; copy it again from the sender`)
  }
  const frameCrc = bytes.readUInt32BE(FRAME_BYTES - 4)
  if (crc32(bytes.subarray(0, FRAME_BYTES - 4)) !== frameCrc) {
    throw new BundleError('corrupt', 'the bundle file is damaged: its length fields fail their CRC; copy it again from the sender')
  }
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    const line = bytes.toString('latin1', 0, MAGIC.length).trim()
    throw new BundleError('malformed', `the bundle is "${line}", a format this node does not read (it reads version ${FORMAT_VERSION}); update Outpost on this node`)
  }
  const headerLength = bytes.readUInt32BE(MAGIC.length)
  const cipherLength = bytes.readBigUInt64BE(MAGIC.length + 4)
  if (headerLength > MAX_HEADER_BYTES || cipherLength > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new BundleError('corrupt', `the bundle file is damaged: it declares a ${headerLength}-byte header and ${cipherLength}-byte ciphertext; copy it again from the sender`)
  }
  const total = FRAME_BYTES + headerLength + Number(cipherLength) + SIGNATURE_BYTES
  if (bytes.length < total) {
    throw new BundleError('truncated', `the bundle file is truncated: ${bytes.length} of ${total} bytes; copy it again from the sender (was the stick pulled out early?)`)
  }
  if (bytes.length > total) {
    throw new BundleError('corrupt', `the bundle file is damaged: ${bytes.length - total} bytes follow its signature; copy it again from the sender`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString('utf8', FRAME_BYTES, FRAME_BYTES + headerLength))
  } catch {
    throw new BundleError('corrupt', 'the bundle file is damaged: its header is not JSON; copy it again from the sender')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BundleError('corrupt', 'the bundle file is damaged: its header is not a JSON object; copy it again from the sender')
  }
  const problem = headerProblem(parsed as Record<string, unknown>)
  if (problem) throw new BundleError('corrupt', `the bundle file is damaged or not from Outpost: in its header, ${problem}`)
  const p = parsed as BundleHeader
  const header: BundleHeader = {
    v: p.v, id: p.id, kind: p.kind, origin: p.origin, destination: p.destination,
    created: p.created, expires: p.expires, hops: p.hops, hopLimit: p.hopLimit, count: p.count,
    ...(p.enc !== undefined ? { enc: p.enc } : {}),
  }
  const end = total - SIGNATURE_BYTES
  return {
    header,
    signed: bytes.subarray(0, end),
    ciphertext: bytes.subarray(FRAME_BYTES + headerLength, end),
    signature: bytes.subarray(end),
  }
}

/**
 * The header of a bundle, checked for damage but NOT for authenticity: use
 * it to decide where a file goes, and verifyBundle before acting on it.
 */
export function readBundleHeader(bytes: Buffer): BundleHeader {
  return readFrame(bytes).header
}

/** Trusted peers' Ed25519 public keys by node name. */
export type SignerLookup = (origin: string) => KeyObject | undefined

/**
 * Checks that a bundle is whole and signed by the peer it names as origin,
 * without decrypting it: what a relay does before carrying a bundle for
 * another node onward, unchanged.
 */
export function verifyBundle(bytes: Buffer, signerFor: SignerLookup): BundleHeader {
  return verifyFrame(readFrame(bytes), signerFor).header
}

function verifyFrame(frame: Frame, signerFor: SignerLookup): Frame {
  const h = frame.header
  const key = signerFor(h.origin)
  if (!key) {
    throw new BundleError('unknown-signer', `${who(h)}: "${h.origin}" is not a known peer of this node; add it as a peer with its signing key, or remove the file`, h)
  }
  let ok: boolean
  try {
    ok = verify(null, frame.signed, key, frame.signature)
  } catch (err) {
    throw new BundleError('unknown-signer', `${who(h)}: the key this node has for "${h.origin}" cannot check Ed25519 signatures (${(err as Error).message}); fix that peer's signing key`, h)
  }
  if (!ok) {
    throw new BundleError('bad-signature', `${who(h)}: the signature does not match; the file was damaged in transit or not made by "${h.origin}". Copy it again from the sender; if it fails again, check the signing key this node has for "${h.origin}"`, h)
  }
  return frame
}

/**
 * The most message ids one ack bundle may carry. Exporters cut acks at
 * this; an importer refuses more from the signed header, before anything is
 * decrypted. An ack of 2 million ids took 25 s and 709 MB to import, too
 * much for a Pi; 50 000 is a few MB of JSON and well under a second.
 */
export const MAX_ACK_IDS = 50_000

export interface OpenOptions {
  signerFor: SignerLookup
  /** This node's age identity, "AGE-SECRET-KEY-1…". */
  identity: string
  /** This node's name. */
  self: string
  now: number
  /** Refused before anything is read. */
  maxBytes: number
  /** The decompressed payload may not exceed this; decompression stops at it. */
  maxDecompressedBytes: number
  /** Limits on the BSMTP payload of a mail bundle. */
  limits?: Partial<BsmtpLimits>
  /** Ids one ack bundle may carry; MAX_ACK_IDS when not given. */
  maxAckIds?: number
  /** The Autocrypt keys this node holds, by reference, for a narrow payload that refers to keys. */
  keyFor?: (ref: string) => Buffer | undefined
}

/**
 * Verifies, decrypts, decompresses and parses a bundle addressed to this
 * node. The order is the point: cheap checks and the signature come before
 * any work an attacker could make expensive.
 */
export async function openBundle(bytes: Buffer, opts: OpenOptions): Promise<OpenedBundle> {
  if (bytes.length > opts.maxBytes) {
    throw new BundleError('too-large', `the bundle file has ${bytes.length} bytes, more than this node's limit of ${opts.maxBytes}; ask the sender to send smaller bundles, or raise the limit`)
  }
  const frame = verifyFrame(readFrame(bytes), opts.signerFor)
  const h = frame.header
  if (h.destination !== opts.self) {
    throw new BundleError('not-for-us', `${who(h)} is for node "${h.destination}", not this node ("${opts.self}"); carry it on to "${h.destination}" unopened`, h)
  }
  if (opts.now >= h.expires) {
    throw new BundleError(
      'expired',
      `${who(h)} expired at ${new Date(h.expires).toISOString()} (this node's clock says ${new Date(opts.now).toISOString()}); its messages are the origin's to resend. If this clock is wrong, set it and import again`,
      h,
    )
  }
  if (h.hops > h.hopLimit) {
    throw new BundleError('hop-limit', `${who(h)} has been re-bundled ${h.hops} times, more than its hop limit of ${h.hopLimit}; the messages are likely in a routing loop: check the routes of "${h.origin}"`, h)
  }

  const maxAckIds = opts.maxAckIds ?? MAX_ACK_IDS
  if (h.kind === 'ack' && h.count > maxAckIds) {
    throw new BundleError('too-large', `${who(h)} acknowledges ${h.count} messages, more than the ${maxAckIds} this node takes in one ack bundle; it was refused before it was opened. "${h.origin}" should send its acks in smaller bundles: ask its admin to update Outpost`, h)
  }

  let compressed: Uint8Array
  try {
    const { Decrypter } = await age()
    const d = new Decrypter()
    d.addIdentity(opts.identity)
    // The library unwraps the file key and checks the header MAC; the
    // payload is decrypted with the native cipher (age-payload.ts).
    const { header, rest } = splitAgeFile(frame.ciphertext)
    compressed = decryptAgePayload(await d.decryptHeader(header), rest)
  } catch (err) {
    const msg = (err as Error).message
    if (/no identity matched/.test(msg)) {
      let ours = ''
      try {
        ours = ` (${await (await age()).identityToRecipient(opts.identity)})`
      } catch { /* an unusable identity is reported by the message below anyway */ }
      throw new BundleError('not-for-us', `${who(h)} names this node but is encrypted to another age key; "${h.origin}" has an old or wrong key for this node: give it this node's current recipient${ours}`, h)
    }
    if (/unrecognized identity|invalid identity/.test(msg)) throw new Error(`this node's age identity is unusable (${msg}); check the node's key file`, { cause: err })
    throw new BundleError('corrupt', `${who(h)}: its signature is good but its age ciphertext does not decrypt (${msg}); "${h.origin}" wrote a broken bundle: report it to its admin`, h)
  }

  let plain: Buffer
  let keys: Map<string, Buffer> | undefined
  if (h.enc === NARROW_ENCODING) {
    try {
      const d = decodeNarrow(Buffer.from(compressed), opts.keyFor ?? (() => undefined), opts.maxDecompressedBytes)
      plain = d.plain
      keys = d.keysReceived
    } catch (err) {
      if (err instanceof UnknownKeyRefError) {
        throw new BundleError('unknown-key', `${who(h)}: ${err.message}. This node has lost or never had them; "${h.origin}" sends them whole once it hears the bundle was refused`, h)
      }
      if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new BundleError('too-large', `${who(h)} unpacks to more than this node's limit of ${opts.maxDecompressedBytes} bytes; it was refused before unpacking further. Ask "${h.origin}" to send smaller bundles, or raise the limit`, h)
      }
      throw new BundleError('malformed', `${who(h)}: its narrow payload cannot be unpacked (${(err as Error).message}); "${h.origin}" wrote a broken bundle: report it to its admin`, h)
    }
  } else {
    try {
      plain = await decompress(compressed, { maxOutputLength: opts.maxDecompressedBytes, chunkSize: 64 * 1024 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new BundleError('too-large', `${who(h)} unpacks to more than this node's limit of ${opts.maxDecompressedBytes} bytes; it was refused before unpacking further. Ask "${h.origin}" to send smaller bundles, or raise the limit`, h)
      }
      throw new BundleError('malformed', `${who(h)}: its payload is not brotli data (${(err as Error).message}); "${h.origin}" wrote a broken bundle: report it to its admin`, h)
    }
  }

  if (h.kind === 'mail') {
    let messages: BsmtpMessage[]
    try {
      messages = parseBsmtp(plain, opts.limits)
    } catch (err) {
      if (!(err instanceof BsmtpError)) throw err
      const reason = err.kind === 'too-large' ? 'too-large' : 'malformed'
      throw new BundleError(reason, `${who(h)}: its mail payload cannot be used: ${err.message}${reason === 'malformed' ? `; report it to the admin of "${h.origin}"` : ''}`, h)
    }
    if (messages.length !== h.count) {
      throw new BundleError('malformed', `${who(h)}: its header counts ${h.count} messages but the payload holds ${messages.length}; report it to the admin of "${h.origin}"`, h)
    }
    return { kind: 'mail', header: h as BundleHeader & { kind: 'mail' }, payload: { messages }, ...(keys?.size ? { keys } : {}) }
  }

  let parsed: unknown
  try {
    parsed = JSON.parse(plain.toString('utf8'))
  } catch {
    parsed = undefined
  }
  const problem = parsed === undefined ? 'it is not JSON' : ackProblem(parsed)
  if (problem) throw new BundleError('malformed', `${who(h)}: its ack payload cannot be used: ${problem}; report it to the admin of "${h.origin}"`, h)
  const { messageIds, bundleIds } = (parsed as AckPayload).acks
  if (messageIds.length + bundleIds.length !== h.count) {
    throw new BundleError('malformed', `${who(h)}: its header counts ${h.count} acks but the payload holds ${messageIds.length + bundleIds.length}; report it to the admin of "${h.origin}"`, h)
  }
  return { kind: 'ack', header: h as BundleHeader & { kind: 'ack' }, payload: { acks: { messageIds, bundleIds } } }
}

/** "20250303T100000Z": ISO 8601 basic format, to the second, UTC. */
function isoBasic(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')
}

/**
 * `<origin>--<destination>--<created, ISO basic>--<id>.obundle`. Node names
 * hold no "--", so the name splits unambiguously; the name is only a help
 * for people and for sorting, and readers go by the header, never the name.
 */
export function bundleFileName(header: Pick<BundleHeader, 'origin' | 'destination' | 'created' | 'id'>): string {
  return `${header.origin}--${header.destination}--${isoBasic(header.created)}--${header.id}${FILE_SUFFIX}`
}
