// Bytes and airtime on a LoRa link per short Delta Chat message: one
// message (≈2.3 KB: headers with the Autocrypt key, and an armored OpenPGP
// body of random bytes) sealed into a real bundle and sent by the real link
// protocol (server/transports/lora/link.ts) over a simulated channel, every
// frame both sides put on the air counted: fragments, queries, ACKs and
// resends. Airtime is computed for SF7, SF9 and SF12 at 125 kHz by the
// Semtech formula, and set against the baseline measured in the same run:
// the bare message cut into 222-byte frames with no bundle, no link framing
// and no ACKs, i.e. the least any carrier could put on air without
// compressing.
//
//   node --import tsx bench/lora.ts
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { newBundleId, sealBundle } from '../server/bundle/format.js'
import { stableMessageId } from '../server/bundle/message-id.js'
import { airtimeMs } from '../server/transports/lora/airtime.js'
import { AirtimeBudget, WINDOW_MS } from '../server/transports/lora/duty-cycle.js'
import { ACK_DONE } from '../server/transports/lora/frames.js'
import { KissDecoder } from '../server/transports/lora/kiss.js'
import { RadioLink } from '../server/transports/lora/link.js'
import type { RadioPort } from '../server/transports/lora/radio-port.js'
import { Reassembly } from '../server/transports/lora/reassembly.js'
import { radioPair } from '../test/helpers/radio-sim.js'
import { seededRandom } from '../test/helpers/seeded-random.js'

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

/** Every frame's length as it went on air, from both sides of one transfer. */
async function framesOnAir(bundle: Buffer, loss: number, seed: number): Promise<number[]> {
  const fast = { sf: 7, bw: 500000, cr: 5, preamble: 8 }
  const { ports, channel } = radioPair({ modulation: fast, payload: PAYLOAD, loss, seed })
  const sizes: number[] = []
  const tapped = (p: RadioPort): RadioPort => {
    const d = new KissDecoder()
    return { ...p, write: async (b) => { sizes.push(...d.push(b).map((f) => f.data.length)); return p.write(b) } }
  }
  const dirs = [mkdtempSync(join(tmpdir(), 'op-bl-')), mkdtempSync(join(tmpdir(), 'op-bl-'))]
  const mk = (self: string, peer: string, port: RadioPort, dir: string, s: number) => new RadioLink({ port: tapped(port), self, peer, payload: PAYLOAD, modulation: fast, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(dir, 1 << 20), deliver: async () => ACK_DONE, random: seededRandom(s), maxMisses: 30 })
  const a = mk('camp', 'town', ports[0], dirs[0]!, seed + 1)
  mk('town', 'camp', ports[1], dirs[1]!, seed + 2)
  const outcome = await a.send(bundle)
  channel.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  if (outcome !== 'done') throw new Error(`the bench transfer ended ${outcome}`)
  return sizes
}

export async function benchLora(out: (line?: string) => void = (l = '') => process.stdout.write(l + '\n')): Promise<void> {
  const message = shortChatMessage()
  const signKey = generateKeyPairSync('ed25519').privateKey
  const recipient = await identityToRecipient(await generateIdentity())
  const created = Date.now()
  const bundle = await sealBundle({ header: { id: newBundleId(), kind: 'mail', origin: 'camp', destination: 'town', created, expires: created + 86_400_000, hops: 0, hopLimit: 4 }, payload: { messages: [{ sender: 'alice@camp.test', recipients: ['bob@town.test'], data: message, id: stableMessageId(message, 'alice@camp.test') }] }, signKey, recipient })
  const clean = await framesOnAir(bundle, 0, 1)
  const lossy = await framesOnAir(bundle, 0.1, 2)
  const baseline = Array.from({ length: Math.ceil(message.length / PAYLOAD) }, (_, i) => Math.min(PAYLOAD, message.length - i * PAYLOAD))
  const sum = (a: number[]) => a.reduce((s, x) => s + x, 0)
  out(`LoRa: one short Delta Chat message (${message.length} bytes) in a sealed bundle of ${bundle.length} bytes, ${PAYLOAD}-byte frames, 125 kHz, CR 4/5`)
  out(`  bytes on air, no loss: ${sum(clean)} in ${clean.length} frames (both directions); 10% loss: ${sum(lossy)} in ${lossy.length}; baseline (bare message, no framing): ${sum(baseline)} in ${baseline.length}; ratio ${(sum(clean) / sum(baseline)).toFixed(2)}`)
  for (const sf of [7, 9, 12]) {
    const m = { sf, bw: 125000, cr: 5, preamble: 8 }
    const air = (sizes: number[]) => sum(sizes.map((n) => airtimeMs(m, n)))
    const ours = air(clean)
    const budget = 0.01 * WINDOW_MS
    out(`  SF${sf}: ${(ours / 1000).toFixed(1)} s on air (10% loss: ${(air(lossy) / 1000).toFixed(1)} s), baseline ${(air(baseline) / 1000).toFixed(1)} s, ratio ${(ours / air(baseline)).toFixed(2)}; ${(budget / ours).toFixed(1)} messages an hour within 1% duty cycle`)
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchLora()
