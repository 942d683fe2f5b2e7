// Fragments of a bundle, lost, reordered and repeated, come back together as
// the very bundle sent, or not at all; a restart in the middle loses nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ACK_DONE, ACK_PARTIAL, ACK_REFUSED, ACK_TAKES_SHORT, FLAG_SENDS_SHORT, KIND_SHORT_DATA, decodeFrame, encodeFrame, fragmentPlan, linkId, transferId } from '../../../../server/transports/lora/frames.js'
import { Reassembly } from '../../../../server/transports/lora/reassembly.js'
import { seededRandom } from '../../../helpers/seeded-random.js'

const link = linkId('camp', 'town')

function fragments(bundle: Buffer, payload: number) {
  const plan = fragmentPlan(bundle.length, payload)
  const id = transferId(bundle)
  return Array.from({ length: plan.count }, (_, index) => encodeFrame({ kind: 'data', poll: false, link, id, total: bundle.length, index, count: plan.count, data: bundle.subarray(index * plan.size, (index + 1) * plan.size) }))
}

test('every frame fits the radio payload, and the plan covers the bundle exactly', () => {
  for (const size of [1, 195, 196, 197, 2300, 65_536]) {
    const bundle = randomBytes(size)
    const frames = fragments(bundle, 222)
    assert.ok(frames.every((f) => f.length <= 222))
    const back = Buffer.concat(frames.map((f) => (decodeFrame(f) as { data: Buffer }).data))
    assert.deepEqual(back, bundle)
  }
  assert.throws(() => fragmentPlan(100, 20), /cannot carry/)
})

test('lost, reordered and repeated fragments reassemble to the bundle sent, once all are in', () => {
  const rnd = seededRandom(42)
  const dir = mkdtempSync(join(tmpdir(), 'op-reasm-'))
  const store = new Reassembly(dir, 1 << 20)
  const bundle = randomBytes(2300)
  const frames = fragments(bundle, 222).map((f) => decodeFrame(f)!) as Extract<ReturnType<typeof decodeFrame>, { kind: 'data' }>[]
  const id = transferId(bundle).toString('hex')
  let rounds = 0
  while (!store.isComplete(id)) {
    rounds++
    // Each round: a shuffled burst, 30% lost, some twice.
    const burst = [...frames, ...frames.filter(() => rnd() < 0.2)].sort(() => rnd() - 0.5)
    for (const f of burst) {
      if (rnd() < 0.3) continue
      assert.equal(store.put(id, f.total, f.count, f.index, f.data), true)
      if (!store.isComplete(id)) assert.equal(store.take(id), undefined, 'a bundle with fragments missing is never handed out')
    }
  }
  assert.ok(rounds > 1, 'the seeded loss made it take more than one round')
  assert.deepEqual(store.take(id), bundle)
})

test('the held fragments survive a restart, and the ACK state names them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-reasm-'))
  const bundle = randomBytes(1000)
  const frames = fragments(bundle, 222).map((f) => decodeFrame(f)!) as Extract<ReturnType<typeof decodeFrame>, { kind: 'data' }>[]
  const id = transferId(bundle).toString('hex')
  const a = new Reassembly(dir, 1 << 20)
  for (const i of [0, 1, 3]) a.put(id, frames[i]!.total, frames[i]!.count, i, frames[i]!.data)
  const b = new Reassembly(dir, 1 << 20)
  assert.deepEqual(b.ackState(id, 16), { base: 2, bitmap: Buffer.from([0b10]) })
  for (const i of [2, 4, 5]) b.put(id, frames[i]!.total, frames[i]!.count, i, frames[i]!.data)
  assert.equal(frames.length, 6)
  assert.deepEqual(b.take(id), bundle)
  b.markDone(id, 1)
  assert.equal(new Reassembly(dir, 1 << 20).doneStatus(id), 1)
})

test('fragments that hash to another bundle are thrown away whole; a bundle too large is not opened', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-reasm-'))
  const store = new Reassembly(dir, 4096)
  const bundle = randomBytes(500)
  const forged = Buffer.from(bundle)
  forged[300]! ^= 0xff
  const id = transferId(bundle).toString('hex')
  const frames = fragments(forged, 222).map((f) => decodeFrame(f)!) as Extract<ReturnType<typeof decodeFrame>, { kind: 'data' }>[]
  for (const f of frames) store.put(id, f.total, f.count, f.index, f.data)
  assert.equal(store.isComplete(id), true)
  assert.equal(store.take(id), undefined)
  assert.equal(store.isComplete(id), false, 'the wrong bytes are dropped, so the sender starts over')
  assert.equal(store.open('00'.repeat(8), 5000, 30), undefined)
})

test('a frame with a flipped bit or from another pair of nodes does not decode as ours', () => {
  const f = fragments(randomBytes(300), 222)[0]!
  for (let i = 0; i < f.length; i++) {
    const bad = Buffer.from(f)
    bad[i]! ^= 0x10
    assert.equal(decodeFrame(bad), undefined, `flipped byte ${i}`)
  }
  const d = decodeFrame(f)!
  assert.ok(d.kind === 'data' && !d.link.equals(linkId('camp', 'elsewhere')))
  assert.deepEqual(linkId('town', 'camp'), link)
})

test('a SHORT frame is a DATA frame without the link id, total and count, 10 bytes less, and never reads as a DATA frame', () => {
  const bundle = randomBytes(600)
  const id = transferId(bundle)
  const plan = fragmentPlan(bundle.length, 222)
  const data = bundle.subarray(0, plan.size)
  const full = encodeFrame({ kind: 'data', poll: true, takesCompact: true, link, id, total: bundle.length, index: 0, count: plan.count, data })
  const short = encodeFrame({ kind: 'short', poll: true, takesCompact: true, id, index: 0, data })
  assert.equal(full.length - short.length, 10)
  assert.equal(short[0], KIND_SHORT_DATA)
  assert.deepEqual(decodeFrame(short), { kind: 'short', poll: true, takesCompact: true, id, index: 0, data })
  // Truncated or with a flipped bit it is no frame at all.
  for (let n = 0; n < short.length; n++) assert.equal(decodeFrame(short.subarray(0, n)), undefined, `cut to ${n} bytes`)
  for (let i = 0; i < short.length; i++) {
    const bad = Buffer.from(short)
    bad[i]! ^= 0x01
    assert.equal(decodeFrame(bad), undefined, `flipped byte ${i}`)
  }
})

test('an ACK says in the top bit of its status byte whether the receiver takes SHORT frames; the status itself is unchanged', () => {
  const id = transferId(randomBytes(10))
  for (const takesShort of [false, true]) {
    for (const status of [ACK_PARTIAL, ACK_DONE, ACK_REFUSED]) {
      const b = encodeFrame({ kind: 'ack', status, takesShort, link, id, count: 3, base: 1, bitmap: Buffer.from([1]) })
      // What a node of an older version reads: the status byte compared whole.
      assert.equal(b[1], status | (takesShort ? ACK_TAKES_SHORT : 0))
      assert.deepEqual(decodeFrame(b), { kind: 'ack', status, takesShort, link, id, count: 3, base: 1, bitmap: Buffer.from([1]) })
    }
  }
  // A QUERY says whether its sender can send SHORT frames in a flag bit an older node ignores.
  const q = encodeFrame({ kind: 'query', sendsShort: true, link, id, total: 10, count: 1 })
  assert.equal(q[1], FLAG_SENDS_SHORT)
  assert.equal((decodeFrame(q) as { sendsShort: boolean }).sendsShort, true)
})
