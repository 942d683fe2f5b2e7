// The link protocol over a simulated channel (fast modulation: SF7 at
// 500 kHz, a few ms a frame): bundles cross whole and once through loss,
// corruption and both sides talking at once, and a transfer cut off
// resumes from what the receiver kept. Between nodes of this version the
// fragments go as SHORT frames; an older peer keeps getting full ones.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RadioLink } from '../../../../server/transports/lora/link.js'
import { AirtimeBudget } from '../../../../server/transports/lora/duty-cycle.js'
import { Reassembly } from '../../../../server/transports/lora/reassembly.js'
import { ACK_DONE, ACK_REFUSED, ACK_TAKES_SHORT, FLAG_SENDS_SHORT, KIND_SHORT_DATA, fragmentPlan } from '../../../../server/transports/lora/frames.js'
import { KissDecoder } from '../../../../server/transports/lora/kiss.js'
import type { RadioPort } from '../../../../server/transports/lora/radio-port.js'
import { radioPair, type ChannelOptions } from '../../../helpers/radio-sim.js'
import { seededRandom } from '../../../helpers/seeded-random.js'

const modulation = { sf: 7, bw: 500000, cr: 5, preamble: 8 }

function node(name: string, peer: string, port: RadioPort, seed: number, dir = mkdtempSync(join(tmpdir(), `op-link-${name}-`)), takesCompact?: boolean) {
  const got: Buffer[] = []
  const link = new RadioLink({
    port, self: name, peer, payload: 222, modulation, ...(takesCompact === undefined ? {} : { takesCompact }),
    budget: new AirtimeBudget(undefined, 1),
    store: new Reassembly(dir, 1 << 20),
    deliver: async (b) => {
      got.push(b)
      return ACK_DONE
    },
    random: seededRandom(seed),
    maxMisses: 30,
  })
  return { link, got, dir }
}

const channel = (o: Partial<ChannelOptions> = {}): ChannelOptions => ({ modulation, payload: 222, loss: 0.1, corrupt: 0.02, seed: 7, ...o })

test('a bundle crosses whole and once through 10% loss and some corruption', { timeout: 60_000 }, async () => {
  const { ports, channel: ch } = radioPair(channel())
  const a = node('camp', 'town', ports[0], 1)
  const b = node('town', 'camp', ports[1], 2)
  const bundle = randomBytes(5000)
  assert.equal(await a.link.send(bundle), 'done')
  assert.equal(b.got.length, 1)
  assert.deepEqual(b.got[0], bundle)
  assert.ok(ch.stats.dropped > 0, 'the channel did lose frames')
  assert.ok(a.link.stats.framesResent > 0, 'and the sender made up for them')
  // Sending it again finds it done at once: one query, no data.
  const before = a.link.stats.framesSent
  assert.equal(await a.link.send(bundle), 'done')
  assert.equal(b.got.length, 1)
  assert.ok(a.link.stats.framesSent - before <= 3)
  ch.close()
})

test('both nodes sending at once share the half-duplex channel and both bundles arrive', { timeout: 120_000 }, async () => {
  const { ports, channel: ch } = radioPair(channel({ loss: 0.05, corrupt: 0, seed: 11 }))
  const a = node('camp', 'town', ports[0], 3)
  const b = node('town', 'camp', ports[1], 4)
  const ab = randomBytes(3000)
  const ba = randomBytes(2500)
  const [ra, rb] = await Promise.all([a.link.send(ab), b.link.send(ba)])
  assert.deepEqual([ra, rb], ['done', 'done'])
  assert.deepEqual(b.got, [ab])
  assert.deepEqual(a.got, [ba])
  ch.close()
})

test('a transfer cut off mid-bundle resumes from the fragments the receiver kept on disk', { timeout: 60_000 }, async () => {
  const bundle = randomBytes(6000)
  // First link: the channel goes dead after 12 frames in all.
  let frames = 0
  const first = radioPair(channel({ loss: 0, corrupt: 0 }))
  const dead = (p: RadioPort): RadioPort => ({ ...p, write: async (bytes) => (++frames <= 12 ? p.write(bytes) : undefined) })
  const a1 = new RadioLink({ port: dead(first.ports[0]), self: 'camp', peer: 'town', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async () => ACK_DONE, maxMisses: 3, random: seededRandom(5) })
  const b1 = node('town', 'camp', first.ports[1], 6)
  assert.equal(await a1.send(bundle), 'down')
  assert.equal(b1.got.length, 0, 'nothing partial was delivered')
  first.channel.close()
  // The receiver restarts on the same state; a new link sends the rest.
  const second = radioPair(channel({ loss: 0, corrupt: 0 }))
  const a2 = node('camp', 'town', second.ports[0], 7)
  const b2 = node('town', 'camp', second.ports[1], 8, b1.dir)
  assert.equal(await a2.link.send(bundle), 'done')
  assert.deepEqual(b2.got, [bundle])
  const fragments = Math.ceil(6000 / 196)
  const dataSent = a2.link.stats.framesSent - 2 // minus the opening query and the final one
  assert.ok(dataSent < fragments - 5, `the second link sent ${dataSent} frames of ${fragments}: what the receiver held was not sent again`)
  second.channel.close()
})

test('a sender out of airtime stops instead of breaking the duty cycle', { timeout: 30_000 }, async () => {
  const { ports, channel: ch } = radioPair(channel({ loss: 0, corrupt: 0 }))
  const a = new RadioLink({ port: ports[0], self: 'camp', peer: 'town', payload: 222, modulation, budget: new AirtimeBudget(undefined, 0.00002), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async () => ACK_DONE })
  const b = node('town', 'camp', ports[1], 9)
  // 0.002% of an hour is 72 ms: a few frames at this speed, not 30.
  assert.equal(await a.send(randomBytes(6000)), 'budget')
  assert.ok(a.stats.airtimeMs <= 72, `${a.stats.airtimeMs} ms used of 72`)
  assert.equal(b.got.length, 0)
  ch.close()
})

test('a receiver whose radio fails to write does not take the process down; the sender sees the link down', { timeout: 30_000 }, async () => {
  const { ports, channel: ch } = radioPair(channel({ loss: 0, corrupt: 0 }))
  const a = new RadioLink({ port: ports[0], self: 'camp', peer: 'town', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async () => ACK_DONE, maxMisses: 2 })
  const logged: string[] = []
  const broken: RadioPort = { ...ports[1], write: async () => { throw new Error('the radio was unplugged') } }
  new RadioLink({ port: broken, self: 'town', peer: 'camp', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async () => ACK_DONE, log: (l) => logged.push(l) })
  assert.equal(await a.send(randomBytes(500)), 'down')
  assert.ok(logged.some((l) => /answering camp failed: the radio was unplugged/.test(l)), logged.join('\n'))
  ch.close()
})

test('a bundle the receiver takes in but refuses (it refers to keys the receiver lost) ends the send as refused, and stays refused when asked again', { timeout: 60_000 }, async () => {
  const { ports, channel: ch } = radioPair(channel({ loss: 0, corrupt: 0 }))
  const a = node('camp', 'town', ports[0], 11)
  let imports = 0
  new RadioLink({
    port: ports[1], self: 'town', peer: 'camp', payload: 222, modulation,
    budget: new AirtimeBudget(undefined, 1),
    store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-town-')), 1 << 20),
    deliver: async () => {
      imports++
      return ACK_REFUSED
    },
    random: seededRandom(12),
    maxMisses: 30,
  })
  const bundle = randomBytes(900)
  assert.equal(await a.link.send(bundle), 'refused')
  assert.equal(await a.link.send(bundle), 'refused')
  assert.equal(imports, 1, 'the refusal is remembered, not imported again')
  ch.close()
})

test('each end learns from the flags of the frames it hears whether the other takes compact carriage forms; an older peer never says so', { timeout: 60_000 }, async () => {
  const { ports, channel: ch } = radioPair(channel({ loss: 0, corrupt: 0, seed: 13 }))
  const a = node('camp', 'town', ports[0], 5, undefined, true)
  const b = node('town', 'camp', ports[1], 6, undefined, false)
  assert.equal(a.link.peerTakesCompact, undefined)
  assert.equal(b.link.peerTakesCompact, undefined)
  // A sends: B hears A's QUERY and DATA, which say "takes compact"; A hears only ACKs, which say nothing of it.
  assert.equal(await a.link.send(randomBytes(600)), 'done')
  assert.equal(b.link.peerTakesCompact, true)
  assert.equal(a.link.peerTakesCompact, undefined)
  // B, like a node of the older version, sends frames without the flag.
  assert.equal(await b.link.send(randomBytes(600)), 'done')
  assert.equal(a.link.peerTakesCompact, false)
  ch.close()
})

/** A port that keeps a copy of every frame written to it, as it goes on air. */
function tapped(port: RadioPort): { port: RadioPort; frames: Buffer[] } {
  const frames: Buffer[] = []
  const d = new KissDecoder()
  return { frames, port: { ...port, write: async (b) => { frames.push(...d.push(b).map((f) => f.data)); return port.write(b) } } }
}

test('between two nodes of this version the fragments go as SHORT frames once the first ACK says so: 10 bytes less a frame, the bundle whole and once', { timeout: 60_000 }, async () => {
  const bundle = randomBytes(2400)
  const onAir = async (receiverShort: boolean) => {
    const { ports, channel: ch } = radioPair(channel({ loss: 0, corrupt: 0, seed: 21 }))
    const a = tapped(ports[0])
    const sender = new RadioLink({ port: a.port, self: 'camp', peer: 'town', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async () => ACK_DONE, random: seededRandom(22), maxMisses: 30 })
    const b = tapped(ports[1])
    const got: Buffer[] = []
    new RadioLink({ port: b.port, self: 'town', peer: 'camp', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async (x) => (got.push(x), ACK_DONE), random: seededRandom(23), maxMisses: 30, shortData: receiverShort })
    assert.equal(await sender.send(bundle), 'done')
    ch.close()
    assert.deepEqual(got, [bundle])
    return { sent: a.frames, answered: b.frames }
  }
  const withShort = await onAir(true)
  const kinds = withShort.sent.map((f) => String.fromCharCode(f[0]!)).join('')
  // The QUERY opens, its ACK says "short", and every fragment goes short.
  assert.match(kinds, /^Qd+Q*$/, kinds)
  assert.ok(withShort.answered.every((f) => (f[1]! & ACK_TAKES_SHORT) !== 0))
  // A receiver of an older version never says so: the sender keeps sending full DATA frames.
  const older = await onAir(false)
  const olderKinds = older.sent.map((f) => String.fromCharCode(f[0]!)).join('')
  assert.match(olderKinds, /^QD+Q*$/, olderKinds)
  assert.ok(older.answered.every((f) => (f[1]! & ACK_TAKES_SHORT) === 0))
  // Each fragment once, by its index: on a busy machine a slow ACK may
  // make the sender repeat one (with other flags).
  const indexOf = (f: Buffer) => (f[0] === 'd'.charCodeAt(0) ? f.readUInt16BE(10) : f.readUInt16BE(18))
  const fragmentsOf = (fs: Buffer[]) => [...new Map(fs.filter((f) => f[0] !== 'Q'.charCodeAt(0)).map((f) => [indexOf(f), f])).values()]
  const bytes = (fs: Buffer[]) => fs.reduce((n, f) => n + f.length, 0)
  const fragments = fragmentsOf(withShort.sent).length
  assert.equal(fragmentsOf(older.sent).length, fragments)
  assert.equal(bytes(fragmentsOf(older.sent)) - bytes(fragmentsOf(withShort.sent)), 10 * fragments)
})

test('a sender of an older version never hears the SHORT bit in an ACK, whose status it compares whole', { timeout: 30_000 }, async () => {
  const { ports, channel: ch } = radioPair(channel({ loss: 0, corrupt: 0, seed: 24 }))
  const a = tapped(ports[0])
  const sender = new RadioLink({ port: a.port, self: 'camp', peer: 'town', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async () => ACK_DONE, random: seededRandom(25), shortData: false })
  const b = tapped(ports[1])
  const got: Buffer[] = []
  new RadioLink({ port: b.port, self: 'town', peer: 'camp', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async (x) => (got.push(x), ACK_DONE), random: seededRandom(26) })
  const bundle = randomBytes(1500)
  assert.equal(await sender.send(bundle), 'done')
  ch.close()
  assert.deepEqual(got, [bundle])
  assert.ok(a.frames.every((f) => f[0] !== KIND_SHORT_DATA && (f[1]! & FLAG_SENDS_SHORT) === 0))
  const statuses = b.frames.map((f) => f[1]!)
  assert.ok(statuses.length > 0 && statuses.every((s) => s <= 4), `status bytes ${statuses.join(', ')}`)
  assert.equal(statuses[statuses.length - 1], ACK_DONE)
})

test('after the receiver restarts mid-transfer, its SHORT frames are ignored, not guessed: the sender asks again with a QUERY and the rest goes', { timeout: 60_000 }, async () => {
  const { ports, channel: ch } = radioPair(channel({ loss: 0, corrupt: 0, seed: 27 }))
  const a = tapped(ports[0])
  const sender = new RadioLink({ port: a.port, self: 'camp', peer: 'town', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(mkdtempSync(join(tmpdir(), 'op-link-')), 1 << 20), deliver: async () => ACK_DONE, random: seededRandom(28), maxMisses: 30, window: 4 })
  // The receiver's side of the channel goes to whichever link is running now.
  const listeners: ((chunk: Buffer) => void)[] = []
  let current = 0
  ports[1].onData((chunk) => listeners[current]?.(chunk))
  const dir = mkdtempSync(join(tmpdir(), 'op-link-town-'))
  const got: Buffer[] = []
  let shortHeard = 0
  const receiver = (n: number) => {
    const d = new KissDecoder()
    return new RadioLink({
      port: { ...ports[1], onData: (l) => void (listeners[n] = (chunk) => {
        for (const f of d.push(chunk)) if (f.data[0] === KIND_SHORT_DATA) shortHeard++
        // The first radio goes off after the fifth SHORT frame it heard, before answering any more: the node restarts.
        // What came with the sixth reaches the new radio (a slow machine may get several frames in one chunk).
        if (n === 0 && shortHeard > 5) {
          current = 1
          restarted = receiver(1)
          listeners[1]?.(chunk)
          return
        }
        l(chunk)
      }) },
      self: 'town', peer: 'camp', payload: 222, modulation, budget: new AirtimeBudget(undefined, 1),
      store: new Reassembly(dir, 1 << 20), deliver: async (x) => (got.push(x), ACK_DONE), random: seededRandom(29 + n),
    })
  }
  let restarted: RadioLink | undefined
  receiver(0)
  const bundle = randomBytes(3000)
  assert.equal(await sender.send(bundle), 'done')
  ch.close()
  assert.equal(current, 1, 'the receiver did restart mid-transfer')
  assert.deepEqual(got, [bundle], 'the bundle arrived whole, once')
  assert.ok(restarted!.stats.framesBad > 0, 'the restarted receiver ignored SHORT frames it had no QUERY for')
  assert.ok(sender.stats.acksMissed > 0, 'so the sender heard no ACK')
  const kinds = a.frames.map((f) => String.fromCharCode(f[0]!)).join('')
  assert.match(kinds, /^Qd+Q+d+Q*$/, `then asked again with a QUERY and went on short: ${kinds}`)
  const fragments = fragmentPlan(bundle.length, 222).count
  assert.ok(kinds.replace(/Q/g, '').length < fragments + 8, `what the first radio kept was not sent again: ${kinds}`)
})
