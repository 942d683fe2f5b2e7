// Bytes and airtime on a LoRa link per short Delta Chat message. First the
// narrow encoding step by step (server/bundle/narrow/codec.ts) on real
// messages of the real core (test/fixtures/deltachat/, none of those the
// dictionary was made from): raw, armor as binary, deflate with the
// dictionary, Autocrypt key by reference. Then whole bundles sealed as a
// LoRa run seals them and sent by the real link protocol
// (server/transports/lora/link.ts) over a simulated channel, every frame
// both sides put on the air counted: fragments, queries, ACKs and resends;
// brotli bundles (what the carrier sent before) beside narrow ones, and
// each narrow bundle again in its compact carriage form
// (server/bundle/compact.ts) against the same bundle uncompacted. The
// bytes on air of one short message are broken down into the bundle's
// parts and the link's. Airtime
// is computed for SF7, SF9 and SF12 at 125 kHz by the Semtech formula, and
// set against the baseline measured in the same run: the bare ≈2.3 KB
// message cut into 222-byte frames with no bundle, no link framing and no
// ACKs, i.e. the least any carrier could put on air without compressing.
//
//   node --import tsx bench/lora.ts
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { brotliCompressSync } from 'node:zlib'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { FRAME_BYTES, MAGIC, SIGNATURE_BYTES, newBundleId, sealBundle, type NarrowSealOptions } from '../server/bundle/format.js'
import { compactBundle } from '../server/bundle/compact.js'
import { splitAgeFile } from '../server/bundle/age-payload.js'
import { foldKey, keyRef } from '../server/bundle/narrow/autocrypt-key.js'
import { encodeNarrow, narrowRecords } from '../server/bundle/narrow/codec.js'
import { stableMessageId } from '../server/bundle/message-id.js'
import { airtimeMs } from '../server/transports/lora/airtime.js'
import { AirtimeBudget, WINDOW_MS } from '../server/transports/lora/duty-cycle.js'
import { ACK_DONE, CRC_LENGTH, DATA_HEADER, KIND_DATA, KIND_SHORT_DATA, SHORT_DATA_HEADER } from '../server/transports/lora/frames.js'
import { KissDecoder } from '../server/transports/lora/kiss.js'
import { RadioLink } from '../server/transports/lora/link.js'
import type { RadioPort } from '../server/transports/lora/radio-port.js'
import { Reassembly } from '../server/transports/lora/reassembly.js'
import { radioPair } from '../test/helpers/radio-sim.js'
import { seededRandom } from '../test/helpers/seeded-random.js'
import { DICTIONARY_SAMPLES, deltaChatSamples } from '../test/helpers/deltachat-samples.js'

const PAYLOAD = 222
const fold = (s: string) => s.match(/.{1,76}/g)!.join('\r\n')

/** A short Delta Chat text message as it leaves the phone: ≈0.6 KB of headers with the Autocrypt key, ≈1.7 KB of armored OpenPGP. */
export function shortChatMessage(): Buffer {
  const boundary = randomBytes(12).toString('hex')
  return Buffer.from([
    'Subject: [...]', 'Chat-Version: 1.0',
    `Autocrypt: addr=alice@camp.test; prefer-encrypt=mutual; keydata=`, ...fold(randomBytes(330).toString('base64')).split('\r\n').map((l) => ` ${l}`),
    'MIME-Version: 1.0', 'Date: Mon, 7 Dec 2026 10:00:00 +0000',
    `Message-ID: <Mr.${randomBytes(9).toString('base64url')}.${randomBytes(9).toString('base64url')}@camp.test>`,
    'To: "hidden-recipients": ;', 'From: <alice@camp.test>',
    `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"`, '',
    `--${boundary}`, 'Content-Type: application/pgp-encrypted', '', 'Version: 1', '',
    `--${boundary}`, 'Content-Type: application/octet-stream; name="encrypted.asc"', '',
    '-----BEGIN PGP MESSAGE-----', '', fold(randomBytes(900).toString('base64')), `=${randomBytes(3).toString('base64')}`, '-----END PGP MESSAGE-----', '',
    `--${boundary}--`, '',
  ].join('\r\n'))
}

interface AirFrame { kind: number; length: number }

/** Every frame's length as it went on air, from both sides of one transfer. */
async function framesOnAir(bundle: Buffer, loss: number, seed: number): Promise<number[]> {
  return (await framesOnAirByKind(bundle, loss, seed)).map((f) => f.length)
}

/** Every frame as it went on air (its kind and length), from both sides of one transfer; `shortData: false` makes both ends send full DATA frames, as before SHORT frames. */
async function framesOnAirByKind(bundle: Buffer, loss: number, seed: number, shortData = true): Promise<AirFrame[]> {
  const fast = { sf: 7, bw: 500000, cr: 5, preamble: 8 }
  const { ports, channel } = radioPair({ modulation: fast, payload: PAYLOAD, loss, seed })
  const sizes: AirFrame[] = []
  const tapped = (p: RadioPort): RadioPort => {
    const d = new KissDecoder()
    return { ...p, write: async (b) => { sizes.push(...d.push(b).map((f) => ({ kind: f.data[0]!, length: f.data.length }))); return p.write(b) } }
  }
  const dirs = [mkdtempSync(join(tmpdir(), 'op-bl-')), mkdtempSync(join(tmpdir(), 'op-bl-'))]
  const mk = (self: string, peer: string, port: RadioPort, dir: string, s: number) => new RadioLink({ port: tapped(port), self, peer, payload: PAYLOAD, modulation: fast, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(dir, 1 << 20), deliver: async () => ACK_DONE, random: seededRandom(s), maxMisses: 30, shortData })
  const a = mk('camp', 'town', ports[0], dirs[0]!, seed + 1)
  mk('town', 'camp', ports[1], dirs[1]!, seed + 2)
  const outcome = await a.send(bundle)
  channel.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  if (outcome !== 'done') throw new Error(`the bench transfer ended ${outcome}`)
  return sizes
}

/** A message carrying the sender's key in an Autocrypt header, as SecureJoin's first message does; the key is 450 random bytes, about an Ed25519 key with its subkey and signatures. */
function keyMessage(key: Buffer, n: number): Buffer {
  return Buffer.from([
    `Message-ID: <key${n}@camp.test>`, 'Subject: Message from alice@camp.test', 'Chat-Version: 1.0', 'Secure-Join: vc-request',
    `Autocrypt: addr=alice@camp.test; prefer-encrypt=mutual; keydata=${foldKey(key, { crlf: true, tab: false, first: 0, lineLength: 76 })}`,
    'MIME-Version: 1.0', 'From: <alice@camp.test>', 'To: <bob@town.test>', 'Content-Type: text/plain; charset=utf-8', '', 'Secure-Join: vc-request', '',
  ].join('\r\n'), 'latin1')
}

const sum = (a: number[]) => a.reduce((s, x) => s + x, 0)

function compacted(bundle: Buffer): Buffer {
  const r = compactBundle(bundle)
  if (!('compact' in r)) throw new Error(`the bench bundle has no compact form: ${r.unchanged}`)
  return r.compact
}

/** Where the bytes of one sealed bundle go: its frame, header JSON, age header, age nonce and tags, the compressed payload they wrap, and the signature. */
function bundleParts(bundle: Buffer): { frame: number; header: number; ageHeader: number; ageOverhead: number; payload: number; signature: number } {
  const header = bundle.readUInt32BE(MAGIC.length)
  const age = bundle.subarray(FRAME_BYTES + header, bundle.length - SIGNATURE_BYTES)
  const { header: ageHeader, rest } = splitAgeFile(age)
  const chunks = Math.max(1, Math.ceil((rest.length - 16) / (64 * 1024 + 16)))
  const ageOverhead = 16 + 16 * chunks
  return { frame: FRAME_BYTES, header, ageHeader: ageHeader.length, ageOverhead, payload: rest.length - ageOverhead, signature: SIGNATURE_BYTES }
}

/** The link's share of a transfer: DATA (and SHORT) frames' headers and CRCs, bundle bytes sent more than once, and QUERY/ACK frames. */
function linkParts(frames: AirFrame[], carried: number): { dataFrames: number; framing: number; resent: number; other: number; otherFrames: number } {
  const isData = (f: AirFrame) => f.kind === KIND_DATA || f.kind === KIND_SHORT_DATA
  const data = frames.filter(isData)
  const framing = sum(data.map((f) => (f.kind === KIND_DATA ? DATA_HEADER : SHORT_DATA_HEADER) + CRC_LENGTH))
  const others = frames.filter((f) => !isData(f))
  return { dataFrames: data.length, framing, resent: sum(data.map((f) => f.length)) - framing - carried, other: sum(others.map((f) => f.length)), otherFrames: others.length }
}
const mean = (a: number[]) => sum(a) / a.length

export async function benchLora(out: (line?: string) => void = (l = '') => process.stdout.write(l + '\n')): Promise<void> {
  const signKey = generateKeyPairSync('ed25519').privateKey
  const recipient = await identityToRecipient(await generateIdentity())
  const seal = async (datas: Buffer[], narrow?: NarrowSealOptions) => {
    const created = Date.now()
    const messages = datas.map((data) => ({ sender: 'alice@camp.test', recipients: ['bob@town.test'], data, id: stableMessageId(data, 'alice@camp.test') }))
    return sealBundle({ header: { id: newBundleId(), kind: 'mail', origin: 'camp', destination: 'town', created, expires: created + 86_400_000, hops: 0, hopLimit: 4 }, payload: { messages }, signKey, recipient, ...(narrow ? { narrow } : {}) })
  }
  const synthetic = shortChatMessage()
  const baseline = Array.from({ length: Math.ceil(synthetic.length / PAYLOAD) }, (_, i) => Math.min(PAYLOAD, synthetic.length - i * PAYLOAD))

  // The encoding, step by step, on real messages it was not trained on.
  const real = deltaChatSamples().filter((s) => !DICTIONARY_SAMPLES.includes(s.name)).map((s) => s.data)
  const none = () => false
  const raw = mean(real.map((d) => d.length))
  const unwrapped = mean(real.map((d) => narrowRecords(d, none, { armor: true, keyRefs: false, dictionary: false }).bytes.length))
  const deflated = mean(real.map((d) => encodeNarrow(d, none, { armor: true, keyRefs: false, dictionary: false }).bytes.length))
  const dict = mean(real.map((d) => encodeNarrow(d, none, { armor: true, keyRefs: false, dictionary: true }).bytes.length))
  const referenced = mean(real.map((d) => encodeNarrow(d, () => true).bytes.length))
  const brotli = mean(real.map((d) => brotliCompressSync(d).length))
  const key = randomBytes(450)
  const km = keyMessage(key, 1)
  const kWhole = encodeNarrow(km, none).bytes.length
  const kRef = encodeNarrow(km, (r) => r === keyRef(key)).bytes.length
  out(`LoRa bytes on air: ${real.length} real short Delta Chat messages (core 2.57), mean of each step; the synthetic 2.3 KB message is the baseline`)
  out(`  raw ${raw.toFixed(0)} B; armor as binary ${unwrapped.toFixed(0)} B (${(unwrapped / raw).toFixed(2)}); + deflate ${deflated.toFixed(0)} B; + dictionary ${dict.toFixed(0)} B (${(dict / raw).toFixed(2)}); + key by reference ${referenced.toFixed(0)} B (the core 2.57 puts the key inside the encryption: nothing to refer to); brotli alone ${brotli.toFixed(0)} B`)
  out(`  a message with an Autocrypt key in its headers (SecureJoin's first): raw ${km.length} B, narrow with the key whole ${kWhole} B, by reference ${kRef} B`)

  // Where the bytes of a lone short message go, uncompacted and compacted, on a clean channel.
  const lone = await seal([real[0]!], { peerHasKey: none })
  const loneCompact = compacted(lone)
  const p = bundleParts(lone)
  out(`  breakdown of a lone short message (${real[0]!.length} B raw) in a narrow bundle of ${lone.length} B: frame ${p.frame} B, header JSON ${p.header} B, age header ${p.ageHeader} B (one X25519 stanza and its MAC, as text), age nonce and tag ${p.ageOverhead} B, compressed payload ${p.payload} B, signature ${p.signature} B`)
  const loneAir: Record<string, AirFrame[]> = {}
  for (const [what, carried, shortData] of [['as the bundle file, full DATA frames', lone, false], ['in its compact form, full DATA frames (before SHORT frames)', loneCompact, false], ['in its compact form, SHORT frames', loneCompact, true]] as const) {
    const frames = await framesOnAirByKind(carried, 0, 100, shortData)
    loneAir[what] = frames
    const l = linkParts(frames, carried.length)
    out(`    ${what} (${carried.length} B): on air ${sum(frames.map((f) => f.length))} B = ${carried.length} B carried + ${l.framing} B of link headers and CRCs in ${l.dataFrames} DATA frames + ${l.resent} B resent + ${l.other} B in ${l.otherFrames} QUERY and ACK frames`)
  }
  // SHORT frames against full ones, the same compact form over the same channel and seeds.
  const full = loneAir['in its compact form, full DATA frames (before SHORT frames)']!.map((f) => f.length)
  const short = loneAir['in its compact form, SHORT frames']!.map((f) => f.length)
  out(`    SHORT frames: ${sum(short)} B on air against ${sum(full)} B with full DATA frames (${sum(full) - sum(short)} B less, ratio ${(sum(short) / sum(full)).toFixed(3)})`)
  for (const sf of [7, 9, 12]) {
    const m = { sf, bw: 125000, cr: 5, preamble: 8 }
    const air = (sizes: number[]) => sum(sizes.map((n) => airtimeMs(m, n)))
    out(`      SF${sf}/125 kHz: ${(air(short) / 1000).toFixed(2)} s against ${(air(full) / 1000).toFixed(2)} s (ratio ${(air(short) / air(full)).toFixed(3)}); ${((0.01 * WINDOW_MS) / air(short)).toFixed(1)} against ${((0.01 * WINDOW_MS) / air(full)).toFixed(1)} lone messages an hour within 1% duty cycle`)
  }
  out(`    compact form: ${lone.length - loneCompact.length} B less (the frame, the header as binary, the age stanza and MAC as raw bytes); the ${p.payload + p.ageOverhead + p.signature} B of ciphertext, nonce, tag and signature stay`)

  // Whole bundles over the link: what a LoRa run puts on the air.
  const narrowOne = await seal([real[0]!], { peerHasKey: none })
  const narrowAll = await seal(real, { peerHasKey: none })
  const rows: [string, Buffer, number][] = [
    ['brotli bundle, 1 message (before)', await seal([real[0]!]), 1],
    ['narrow bundle, 1 message', narrowOne, 1],
    ['narrow bundle, 1 message, compact form', compacted(narrowOne), 1],
    [`brotli bundle, ${real.length} messages`, await seal(real), real.length],
    [`narrow bundle, ${real.length} messages`, narrowAll, real.length],
    [`narrow bundle, ${real.length} messages, compact form`, compacted(narrowAll), real.length],
  ]
  out(`  sealed and sent by the link (${PAYLOAD}-byte frames, 125 kHz, CR 4/5; every frame of both sides counted); baseline: the bare ${synthetic.length}-byte message in ${baseline.length} frames, ${sum(baseline)} B`)
  let seed = 1
  let uncompacted = 0
  for (const [what, bundle, count] of rows) {
    const compact = what.endsWith('compact form')
    // A compact form goes over the same simulated channel, with the same seeds, as the bundle before it.
    if (compact) seed -= 2
    const cleanFrames = await framesOnAirByKind(bundle, 0, seed++)
    const clean = cleanFrames.map((f) => f.length)
    const lossy = await framesOnAir(bundle, 0.1, seed++)
    const per = sum(clean) / count
    // Resends on a clean channel come from ACKs that a busy machine answered late: the comparison leaves them out.
    const resent = linkParts(cleanFrames, bundle.length).resent
    const needed = (sum(clean) - resent) / count
    out(`  ${what}: ${compact ? 'carried' : 'bundle'} ${bundle.length} B; on air ${per.toFixed(0)} B a message (${(resent / count).toFixed(0)} B of it resent; 10% loss: ${(sum(lossy) / count).toFixed(0)} B), ratio to baseline ${(per / sum(baseline)).toFixed(2)}` +
      (compact ? `; without resends ${needed.toFixed(0)} B, ratio to the same bundle uncompacted ${(needed / uncompacted).toFixed(2)}` : ''))
    uncompacted = needed
    for (const sf of [7, 9, 12]) {
      const m = { sf, bw: 125000, cr: 5, preamble: 8 }
      const air = (sizes: number[]) => sum(sizes.map((n) => airtimeMs(m, n)))
      const ours = air(clean) / count
      out(`    SF${sf}: ${(ours / 1000).toFixed(2)} s a message (10% loss: ${(air(lossy) / count / 1000).toFixed(2)} s), baseline ${(air(baseline) / 1000).toFixed(2)} s, ratio ${(ours / air(baseline)).toFixed(2)}; ${((0.01 * WINDOW_MS) / ours).toFixed(1)} messages an hour within 1% duty cycle`)
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchLora()
