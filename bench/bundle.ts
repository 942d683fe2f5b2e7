// Bundle throughput and size: sealing (BSMTP → brotli → age → Ed25519) and
// opening (verify → decrypt → decompress → parse) n realistic Delta Chat
// messages, against the baseline "plain BSMTP + gzip -6" (no encryption, no
// signature) measured in the same run on the same messages.
//
//   node --import tsx bench/bundle.ts        (BENCH_BUNDLE_MESSAGES=10000)
//
// Each figure is the best of a few rounds, ours and the baseline taking
// turns, so a noisy neighbour on a two-core box hurts both alike.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants, gunzip, gunzipSync, gzip, gzipSync } from 'node:zlib'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { parseBsmtp, writeBsmtp, type BsmtpMessage } from '../server/bundle/bsmtp.js'
import { newBundleId, openBundle, sealBundle, BROTLI_QUALITY } from '../server/bundle/format.js'
import { stableMessageId } from '../server/bundle/message-id.js'

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)

const PER_BUNDLE = Number(process.env.BENCH_BUNDLE_SIZE ?? 1000)
const ROUNDS = Number(process.env.BENCH_BUNDLE_ROUNDS ?? 3)

function fold(text: string, width: number, indent = ''): string {
  const lines: string[] = []
  for (let i = 0; i < text.length; i += width) lines.push(indent + text.slice(i, i + width))
  return lines.join('\r\n')
}

/**
 * Messages as a chatmail-style Delta Chat group sends them: a dozen members,
 * each message Autocrypt-signed with the sender's key in the header and an
 * OpenPGP-encrypted body (random bytes, so incompressible but for base64),
 * to eight recipients on the other node; ~6-7 KB each.
 */
export function realisticMessages(n: number): BsmtpMessage[] {
  const members = Array.from({ length: 12 }, (_, i) => ({
    addr: `${randomBytes(5).toString('hex')}@${i % 2 ? 'alpha' : 'beta'}.camp.test`,
    keydata: randomBytes(450).toString('base64'),
  }))
  const messages: BsmtpMessage[] = []
  for (let i = 0; i < n; i++) {
    const from = members[i % members.length]!
    const boundary = randomBytes(12).toString('hex')
    const armored = fold(randomBytes(3300 + (i % 7) * 100).toString('base64'), 76)
    const minute = String(i % 60).padStart(2, '0')
    const data = Buffer.from(
      [
        `Received: from [10.42.0.${i % 200}] by alpha.camp.test (Haraka) with ESMTPSA id ${randomBytes(8).toString('hex').toUpperCase()}; Mon, 3 Mar 2025 10:${minute}:00 +0000`,
        'Subject: [...]',
        'Chat-Version: 1.0',
        `Autocrypt: addr=${from.addr}; prefer-encrypt=mutual; keydata=`,
        fold(from.keydata, 76, ' '),
        'MIME-Version: 1.0',
        `Date: Mon, 3 Mar 2025 10:${minute}:00 +0000`,
        `Message-ID: <Mr.${randomBytes(9).toString('base64url')}.${randomBytes(9).toString('base64url')}@alpha.camp.test>`,
        'To: "Camp" <hidden-recipients@localhost>',
        `From: <${from.addr}>`,
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";',
        ` boundary="${boundary}"`,
        '',
        `--${boundary}`,
        'Content-Type: application/pgp-encrypted',
        'Content-Description: PGP/MIME version identification',
        '',
        'Version: 1',
        '',
        `--${boundary}`,
        'Content-Type: application/octet-stream; name="encrypted.asc"',
        'Content-Description: OpenPGP encrypted message',
        'Content-Disposition: inline; filename="encrypted.asc";',
        '',
        '-----BEGIN PGP MESSAGE-----',
        '',
        armored,
        `=${randomBytes(3).toString('base64')}`,
        '-----END PGP MESSAGE-----',
        '',
        `--${boundary}--`,
        '',
      ].join('\r\n'),
      'latin1',
    )
    const recipients = members.filter((m) => m !== from).slice(0, 8).map((m) => m.addr)
    messages.push({ sender: from.addr, recipients, data, id: stableMessageId(data, from.addr) })
  }
  return messages
}

const out = (line = '') => process.stdout.write(line + '\n')
const rate = (count: number, ms: number) => (count / (ms / 1000)).toFixed(0)
const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0)

async function best(rounds: number, run: () => Promise<void>): Promise<number> {
  let fastest = Infinity
  for (let i = 0; i < rounds; i++) {
    const started = performance.now()
    await run()
    fastest = Math.min(fastest, performance.now() - started)
  }
  return fastest
}

export interface BundleBenchResult {
  messages: number
  rawBytes: number
  ours: { sealPerSec: number; openPerSec: number; bytes: number }
  baseline: { sealPerSec: number; openPerSec: number; bytes: number }
}

/** The compression candidates on one bundle's payload: the figures behind the choice in the spec. */
function compressionTable(payload: Buffer): void {
  out(`  compression of one ${PER_BUNDLE}-message payload (${(payload.length / 1e6).toFixed(1)} MB):`)
  const candidates: Array<[string, (b: Buffer) => Buffer, (b: Buffer) => Buffer]> = [
    ...[1, 6, 9].map((level): [string, (b: Buffer) => Buffer, (b: Buffer) => Buffer] => [`gzip -${level}`, (b) => gzipSync(b, { level }), gunzipSync]),
    ...[1, 3, 4, 5, 6].map((q): [string, (b: Buffer) => Buffer, (b: Buffer) => Buffer] => [
      `brotli q${q}`,
      (b) => brotliCompressSync(b, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: q, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: b.length } }),
      brotliDecompressSync,
    ]),
  ]
  for (const [label, pack, unpack] of candidates) {
    let packed: Buffer = Buffer.alloc(0)
    let packMs = Infinity
    let unpackMs = Infinity
    for (let i = 0; i < ROUNDS; i++) {
      let t = performance.now()
      packed = pack(payload)
      packMs = Math.min(packMs, performance.now() - t)
      t = performance.now()
      unpack(packed)
      unpackMs = Math.min(unpackMs, performance.now() - t)
    }
    out(`    ${label.padEnd(12)} ${(packed.length / payload.length).toFixed(3)} of raw   pack ${mbps(payload.length, packMs).padStart(4)} MB/s   unpack ${mbps(payload.length, unpackMs).padStart(4)} MB/s`)
  }
}

export async function benchBundles(n = 10000): Promise<BundleBenchResult> {
  out(`Bundles: ${n} Delta Chat messages, ${PER_BUNDLE} per bundle, best of ${ROUNDS} rounds`)
  const messages = realisticMessages(n)
  const groups: BsmtpMessage[][] = []
  for (let i = 0; i < messages.length; i += PER_BUNDLE) groups.push(messages.slice(i, i + PER_BUNDLE))
  const rawBytes = messages.reduce((sum, m) => sum + m.data.length, 0)
  out(`  raw message data: ${(rawBytes / 1e6).toFixed(1)} MB (${(rawBytes / n).toFixed(0)} bytes per message)`)
  compressionTable(writeBsmtp(groups[0]!))

  const alpha = generateKeyPairSync('ed25519')
  const identity = await generateIdentity()
  const recipient = await identityToRecipient(identity)
  const created = Date.now()
  const header = () => ({ id: newBundleId(), kind: 'mail' as const, origin: 'alpha', destination: 'beta', created, expires: created + 86_400_000, hops: 0, hopLimit: 4 })
  const openOpts = {
    signerFor: (o: string) => (o === 'alpha' ? alpha.publicKey : undefined),
    identity,
    self: 'beta',
    now: created,
    maxBytes: 1024 * 1024 * 1024,
    maxDecompressedBytes: 1024 * 1024 * 1024,
    limits: { maxMessages: PER_BUNDLE },
  }

  let sealed: Buffer[] = []
  let gzipped: Buffer[] = []
  let oursSeal = Infinity
  let baseSeal = Infinity
  let oursOpen = Infinity
  let baseOpen = Infinity
  for (let round = 0; round < ROUNDS; round++) {
    baseSeal = Math.min(baseSeal, await best(1, async () => {
      gzipped = []
      for (const g of groups) gzipped.push(await gzipAsync(writeBsmtp(g), { level: 6 }))
    }))
    oursSeal = Math.min(oursSeal, await best(1, async () => {
      sealed = []
      for (const g of groups) sealed.push(await sealBundle({ header: header(), payload: { messages: g }, signKey: alpha.privateKey, recipient }))
    }))
    baseOpen = Math.min(baseOpen, await best(1, async () => {
      let count = 0
      for (const z of gzipped) count += parseBsmtp(await gunzipAsync(z), { maxMessages: PER_BUNDLE }).length
      if (count !== n) throw new Error(`baseline lost messages: ${count} of ${n}`)
    }))
    oursOpen = Math.min(oursOpen, await best(1, async () => {
      let count = 0
      for (const b of sealed) {
        const opened = await openBundle(b, openOpts)
        if (opened.kind === 'mail') count += opened.payload.messages.length
      }
      if (count !== n) throw new Error(`bundles lost messages: ${count} of ${n}`)
    }))
  }

  const oursBytes = sealed.reduce((s, b) => s + b.length, 0)
  const baseBytes = gzipped.reduce((s, b) => s + b.length, 0)
  const result: BundleBenchResult = {
    messages: n,
    rawBytes,
    ours: { sealPerSec: n / (oursSeal / 1000), openPerSec: n / (oursOpen / 1000), bytes: oursBytes },
    baseline: { sealPerSec: n / (baseSeal / 1000), openPerSec: n / (baseOpen / 1000), bytes: baseBytes },
  }
  const row = (label: string, ours: string, base: string, ratio: string) => out(`  ${label.padEnd(38)}${ours.padEnd(16)}${base.padEnd(16)}${ratio}`)
  out()
  row('', `bundle (br q${BROTLI_QUALITY})`, 'BSMTP+gzip -6', 'ours/baseline')
  row('seal, messages/s (higher is better)', rate(n, oursSeal), rate(n, baseSeal), (baseSeal / oursSeal).toFixed(2))
  row('open, messages/s (higher is better)', rate(n, oursOpen), rate(n, baseOpen), (baseOpen / oursOpen).toFixed(2))
  row('bytes on disk (lower is better)', `${(oursBytes / 1e6).toFixed(2)} MB`, `${(baseBytes / 1e6).toFixed(2)} MB`, (oursBytes / baseBytes).toFixed(3))
  row('bytes on disk / raw data', (oursBytes / rawBytes).toFixed(3), (baseBytes / rawBytes).toFixed(3), '')
  const met = oursSeal <= baseSeal && oursOpen <= baseOpen && oursBytes <= baseBytes
  out(`  target (as fast both ways and no larger, while encrypting and signing): ${met ? 'met' : 'NOT met'}`)
  return result
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchBundles(Number(process.env.BENCH_BUNDLE_MESSAGES ?? 10000))
}
