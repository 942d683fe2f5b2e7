// The pickup answer's framing: bundles survive it whole, damage is named.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { frameBundles, unframeBundles, PickupFormatError } from '../../../server/transports/pickup.js'

const name = (i: number) => `town--camp--20261125T180000Z--${String(i).padStart(32, '0')}.obundle`

test('bundles go through the framing unchanged, newlines inside them included', () => {
  const bundles = [
    { name: name(1), bytes: Buffer.from('first\nwith\nlines\n') },
    { name: name(2), bytes: Buffer.alloc(0) },
    { name: name(3), bytes: Buffer.from([0, 10, 13, 255]) },
  ]
  const back = unframeBundles(frameBundles(bundles), 1024)
  assert.deepEqual(back.map((b) => [b.name, b.bytes.toString('hex')]), bundles.map((b) => [b.name, b.bytes.toString('hex')]))
  assert.deepEqual(unframeBundles(Buffer.alloc(0), 1024), [])
})

test('a cut answer, a bad name or an oversized length is refused with the reason', () => {
  const framed = frameBundles([{ name: name(1), bytes: Buffer.from('0123456789') }])
  assert.throws(() => unframeBundles(framed.subarray(0, framed.length - 1), 1024), /cut short/)
  assert.throws(() => unframeBundles(framed, 5), /bad length/)
  assert.throws(() => unframeBundles(Buffer.from('../etc/passwd\n1\nx'), 1024), PickupFormatError)
  assert.throws(() => frameBundles([{ name: 'a\nb', bytes: Buffer.alloc(0) }]), /line break/)
})

test('a name with a path in it is refused even when it ends like a bundle', () => {
  assert.throws(() => unframeBundles(Buffer.from('../x.obundle\n1\nx'), 1024), /not a bundle file name/)
})
