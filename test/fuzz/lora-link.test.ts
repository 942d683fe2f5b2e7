// Frame-level fuzzing of the LoRa link: while a genuine bundle crosses a
// lossy simulated channel, the receiver's serial port is also fed random
// bytes, truncated and bit-flipped frames, frames with forged but valid
// CRCs, and replays of the genuine transfer's frames, SHORT data frames
// among them (forged for the genuine transfer with the right index and
// length but other bytes, for unknown transfers, cut short). The link must
// not crash, and must deliver exactly the bundle sent, once, and nothing
// else.
// The seed is fixed (OUTPOST_FUZZ_SEED overrides it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { RadioLink } from '../../server/transports/lora/link.js'
import { AirtimeBudget } from '../../server/transports/lora/duty-cycle.js'
import { Reassembly } from '../../server/transports/lora/reassembly.js'
import { ACK_DONE, DATA_HEADER, KIND_ACK, KIND_DATA, KIND_QUERY, KIND_SHORT_DATA, SHORT_DATA_HEADER, fragmentLength, fragmentPlan, linkId, transferId } from '../../server/transports/lora/frames.js'
import { KissDecoder, kissEncode } from '../../server/transports/lora/kiss.js'
import type { RadioPort } from '../../server/transports/lora/radio-port.js'
import { radioPair } from '../helpers/radio-sim.js'
import { seededRandom } from '../helpers/seeded-random.js'

const SEED = Number(process.env.OUTPOST_FUZZ_SEED ?? 20261207)
const modulation = { sf: 7, bw: 500000, cr: 5, preamble: 8 }

function withCrc(body: Buffer): Buffer {
  const c = Buffer.alloc(4)
  c.writeUInt32BE(crc32(body))
  return Buffer.concat([body, c])
}

test('random, truncated, forged and replayed frames never crash the link nor deliver a wrong or partial bundle', { timeout: 300_000 }, async () => {
  const rnd = seededRandom(SEED)
  const { ports, channel } = radioPair({ modulation, payload: 222, loss: 0.1, corrupt: 0.05, seed: SEED })
  // Every frame the genuine sender puts on the air, for replaying.
  const heard: Buffer[] = []
  const tap = new KissDecoder()
  const senderPort: RadioPort = { ...ports[0], write: async (b) => { heard.push(...tap.push(b).map((f) => f.data)); return ports[0].write(b) } }
  let inject: (b: Buffer) => void = () => {}
  const receiverPort: RadioPort = { ...ports[1], onData: (l) => { inject = l; ports[1].onData(l) } }
  const delivered: Buffer[] = []
  const budget = () => new AirtimeBudget(undefined, 1)
  const sender = new RadioLink({ port: senderPort, self: 'camp', peer: 'town', payload: 222, modulation, budget: budget(), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-fz-')), 1 << 20), deliver: async () => ACK_DONE, maxMisses: 40, random: seededRandom(SEED + 1) })
  const receiver = new RadioLink({
    port: receiverPort, self: 'town', peer: 'camp', payload: 222, modulation, budget: budget(),
    store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-fz-')), 64 * 1024),
    deliver: async (b) => {
      delivered.push(b)
      return ACK_DONE
    },
    random: seededRandom(SEED + 2),
  })
  const link = linkId('camp', 'town')
  const bundle = randomBytes(4000)

  let cases = 0
  let shortForged = 0
  let placedForged = 0
  let fuzzing = true
  const fuzz = (async () => {
    while (fuzzing) {
      const pick = rnd()
      let frame: Buffer
      if (pick < 0.2) frame = Buffer.from(Array.from({ length: Math.floor(rnd() * 260) }, () => Math.floor(rnd() * 256)))
      else if (pick < 0.4 && heard.length) {
        const f = heard[Math.floor(rnd() * heard.length)]!
        frame = f.subarray(0, Math.floor(rnd() * f.length))
      } else if (pick < 0.55 && heard.length) {
        frame = Buffer.from(heard[Math.floor(rnd() * heard.length)]!)
        frame[Math.floor(rnd() * frame.length)]! ^= 1 << Math.floor(rnd() * 8)
      } else if (pick < 0.7 && heard.length) {
        frame = heard[Math.floor(rnd() * heard.length)]!
      } else if (pick < 0.85) {
        // A SHORT frame with a valid CRC: for the genuine transfer, at an index
        // it has and with the right length (other bytes), or anything at all.
        // A few of the first kind: each that lands before the genuine fragment
        // makes the whole fail its hash, and the transfer starts over (as a
        // jammer can make it), so a stream of them would never let it end.
        const plan = fragmentPlan(bundle.length, 222)
        const placed = placedForged < 4 && rnd() < 0.3
        if (placed) placedForged++
        const index = placed ? Math.floor(rnd() * plan.count) : Math.floor(rnd() * 65536)
        const length = placed ? fragmentLength(bundle.length, plan.count, index) : 1 + Math.floor(rnd() * 200)
        const body = Buffer.alloc(SHORT_DATA_HEADER + length)
        for (let i = 0; i < body.length; i++) body[i] = Math.floor(rnd() * 256)
        body[0] = KIND_SHORT_DATA
        if (placed || rnd() < 0.5) transferId(bundle).copy(body, 2)
        body.writeUInt16BE(index, 10)
        frame = withCrc(body)
        if (rnd() < 0.2) frame = frame.subarray(0, Math.floor(rnd() * frame.length))
        shortForged++
      } else {
        // Valid CRC, our link id, hostile fields: huge totals, counts of 0 or 65535, indexes out of range, the genuine id with other data.
        const kind = [KIND_DATA, KIND_QUERY, KIND_ACK][Math.floor(rnd() * 3)]!
        const body = Buffer.alloc(DATA_HEADER + Math.floor(rnd() * 200))
        for (let i = 0; i < body.length; i++) body[i] = Math.floor(rnd() * 256)
        body[0] = kind
        link.copy(body, 2)
        if (rnd() < 0.5) transferId(bundle).copy(body, 6)
        if (rnd() < 0.5) body.writeUInt32BE(bundle.length, 14)
        frame = withCrc(kind === KIND_QUERY ? body.subarray(0, 20) : body)
      }
      inject(rnd() < 0.1 ? frame : kissEncode(frame))
      cases++
      await new Promise((r) => setTimeout(r, 2))
    }
  })()
  const outcome = await sender.send(bundle)
  // Replays after the transfer finished must not deliver it again.
  await new Promise((r) => setTimeout(r, 1000))
  fuzzing = false
  await fuzz
  channel.close()
  assert.equal(outcome, 'done')
  assert.ok(cases > 200, `${cases} hostile frames were fed`)
  assert.ok(shortForged > 30, `${shortForged} of them forged SHORT frames`)
  assert.ok(heard.some((f) => f[0] === KIND_SHORT_DATA), 'the genuine transfer went by SHORT frames, which were replayed')
  assert.equal(delivered.length, 1, 'delivered once')
  assert.deepEqual(delivered[0], bundle, 'and exactly the bundle sent')
  assert.ok(receiver.stats.framesBad > 0)
})
