// KISS framing: escaping both special bytes, and a stream cut anywhere.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kissEncode, KissDecoder, FEND, FESC, TFEND, TFESC } from '../../../../server/transports/lora/kiss.js'
import { seededRandom } from '../../../helpers/seeded-random.js'

test('FEND and FESC inside the data are escaped, and decode back to themselves', () => {
  const data = Buffer.from([1, FEND, 2, FESC, 3, FESC, FEND])
  const wire = kissEncode(data)
  assert.deepEqual([...wire], [FEND, 0x00, 1, FESC, TFEND, 2, FESC, TFESC, 3, FESC, TFESC, FESC, TFEND, FEND])
  // No FEND between the two ends: a reader can never split the frame wrongly.
  assert.equal(wire.subarray(1, -1).includes(FEND), false)
  const frames = new KissDecoder().push(wire)
  assert.equal(frames.length, 1)
  assert.equal(frames[0]!.command, 0)
  assert.deepEqual(frames[0]!.data, data)
})

test('frames arrive whole however the serial stream is cut, with noise and idle FENDs between', () => {
  const rnd = seededRandom(17)
  const sent = Array.from({ length: 50 }, () => Buffer.from(Array.from({ length: Math.floor(rnd() * 240) + 1 }, () => (rnd() < 0.2 ? [FEND, FESC][Math.floor(rnd() * 2)]! : Math.floor(rnd() * 256)))))
  const stream = Buffer.concat([Buffer.from('noise before the first FEND'), ...sent.map((d) => Buffer.concat([kissEncode(d), Buffer.from([FEND, FEND])]))])
  const dec = new KissDecoder(512)
  const got: Buffer[] = []
  for (let i = 0; i < stream.length; ) {
    const n = Math.floor(rnd() * 40) + 1
    got.push(...dec.push(stream.subarray(i, i + n)).map((f) => f.data))
    i += n
  }
  assert.deepEqual(got, sent)
  assert.equal(dec.dropped, 0)
})

test('a broken escape or an oversized frame is dropped whole, and the next frame still reads', () => {
  const dec = new KissDecoder(8)
  const bad = Buffer.from([FEND, 0, 1, FESC, 0x41, 2, FEND])
  const big = kissEncode(Buffer.alloc(20, 7))
  const good = kissEncode(Buffer.from([9, 9]))
  const frames = dec.push(Buffer.concat([bad, big, good]))
  assert.deepEqual(frames.map((f) => [...f.data]), [[9, 9]])
  assert.equal(dec.dropped, 2)
})

test('a non-data command keeps its command byte (RNode answers with its own)', () => {
  const frames = new KissDecoder().push(kissEncode(Buffer.from([0x46]), 0x08))
  assert.deepEqual(frames, [{ command: 0x08, data: Buffer.from([0x46]) }])
})
