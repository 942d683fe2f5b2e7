// The node's clock with a wrong wall clock injected: what a Pi without a
// real-time clock sees after booting with no network, or after someone set
// the date by hand to the wrong year.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EXPIRY_CATCH_UP_MS, EXPIRY_KEY, FLOOR_KEY, FloorClock, PEER_LEAD_LIMIT_MS } from '../../../server/base/clock.js'
import { openDb } from '../../../server/db/index.js'
import { settingsFloorStore } from '../../../server/db/settings.js'
import { certDays, CERT_DAYS } from '../../../server/tls/selfsigned.js'
import { savedBefore } from '../../../server/dovecot/process.js'

/** The store the node uses, on a fresh database, holding `init`. */
function floorStore(init: Record<string, number> = {}) {
  const store = settingsFloorStore(openDb(':memory:'))
  for (const [key, value] of Object.entries(init)) store.set(key, value)
  return store
}

const DAY = 86_400_000
const T = Date.UTC(2026, 10, 25, 12, 0, 0)

/** A wall clock and a monotonic clock a test moves by hand. */
function clocks(wallAt: number) {
  const c = { wall: wallAt, mono: 1_000 }
  return { c, wall: () => c.wall, monotonic: () => c.mono, pass: (ms: number) => ((c.wall += ms), (c.mono += ms)) }
}

test('a box that boots at 1970 keeps counting from the floor it stored, and the floor moves with real seconds', () => {
  const k = clocks(0)
  const store = floorStore({ [FLOOR_KEY]: T })
  const clock = new FloorClock({ store, wall: k.wall, monotonic: k.monotonic })
  assert.equal(clock.now(), T, 'never below the stored floor')
  assert.equal(clock.behind(), T)
  k.pass(90_000)
  assert.equal(clock.now(), T + 90_000, 'the floor advances by the monotonic clock')
  clock.save()
  assert.equal(store.get(FLOOR_KEY), T + 90_000)
  // NTP sets the right time: the wall clock is believed again.
  k.c.wall = T + 5 * DAY
  assert.equal(clock.now(), T + 5 * DAY)
  assert.equal(clock.behind(), 0)
})

test('without a stored floor, the data dir and the software build time are the evidence; once stored, the data dir is not', () => {
  const k = clocks(0)
  const fresh = new FloorClock({ store: floorStore(), evidence: { dataDirMtime: T, buildTime: T - 30 * DAY }, wall: k.wall, monotonic: k.monotonic })
  assert.equal(fresh.now(), T)
  // An mtime written while the clock was wrong far ahead must not undo a
  // floor that is stored (the person has since set the clock right).
  const stored = new FloorClock({ store: floorStore({ [FLOOR_KEY]: T }), evidence: { dataDirMtime: T + 3650 * DAY, buildTime: T - 30 * DAY }, wall: k.wall, monotonic: k.monotonic })
  assert.equal(stored.now(), T)
})

test("a trusted peer's bundle time moves the floor forward, but a peer far in the future does not", () => {
  const k = clocks(0)
  const lines: string[] = []
  const store = floorStore({ [FLOOR_KEY]: T })
  const clock = new FloorClock({ store, wall: k.wall, monotonic: k.monotonic, log: (l) => lines.push(l) })
  assert.equal(clock.observePeerTime(T + DAY, 'town'), true)
  assert.equal(clock.now(), T + DAY)
  assert.equal(store.get(FLOOR_KEY), T + DAY, 'stored at once: a power cut keeps it')
  assert.deepEqual(clock.report().source, { kind: 'peer', peer: 'town', at: T + DAY })
  assert.equal(clock.observePeerTime(T + DAY / 2, 'town'), false, 'older evidence never moves it back')
  assert.equal(clock.observePeerTime(T + PEER_LEAD_LIMIT_MS + 1, 'city'), false)
  assert.equal(clock.now(), T + DAY)
  assert.match(lines.join('\n'), /city's bundle is dated .* not taken as the time/)
})

test('a rogue peer cannot ratchet the floor: many bundles, each at the limit, move it at most the lead ahead of vouched time', () => {
  const k = clocks(T)
  const store = floorStore({ [FLOOR_KEY]: T })
  const clock = new FloorClock({ store, wall: k.wall, monotonic: k.monotonic })
  // Twenty tiny ack bundles, each dated as far ahead as the node takes.
  for (let i = 0; i < 20; i++) {
    clock.observePeerTime(clock.now() + PEER_LEAD_LIMIT_MS, 'rogue')
    k.pass(1000)
  }
  const r = clock.report()
  assert.ok(r.floor <= r.vouched + PEER_LEAD_LIMIT_MS, `floor ${new Date(r.floor).toISOString()} stays within the lead of ${new Date(r.vouched).toISOString()}`)
  assert.equal(r.vouched, T + 20_000, 'the vouched time is the wall clock, untouched by peers')
  assert.deepEqual(r.source?.peer, 'rogue')
  // A restart does not turn the pushed floor into vouched time.
  const again = new FloorClock({ store, wall: k.wall, monotonic: k.monotonic })
  again.observePeerTime(again.now() + PEER_LEAD_LIMIT_MS, 'rogue')
  assert.ok(again.floor() <= again.vouched() + PEER_LEAD_LIMIT_MS)

  // The admin resets: the floor is this node's own time again, also in a running node in another process.
  const other = new FloorClock({ store, wall: k.wall, monotonic: k.monotonic })
  const after = again.reset()
  assert.equal(after.floor, T + 20_000)
  assert.equal(after.source?.kind, 'reset')
  k.pass(5000)
  assert.equal(other.now(), T + 25_000, 'a running node adopts a reset made by the CLI')
})

test('a box at 1970 without a vouched time stored (made before it was kept) still vouches for its stored floor', () => {
  const k = clocks(0)
  const clock = new FloorClock({ store: floorStore({ [FLOOR_KEY]: T }), wall: k.wall, monotonic: k.monotonic })
  assert.equal(clock.vouched(), T)
  assert.equal(clock.observePeerTime(T + DAY, 'town'), true, 'a day off: the first stick sets the time')
})

test('expiry never deletes because of a jump backwards, and a jump a year ahead deletes at most an hour more per hour', () => {
  const k = clocks(T)
  const store = floorStore({ [FLOOR_KEY]: T, [EXPIRY_KEY]: T })
  const clock = new FloorClock({ store, wall: k.wall, monotonic: k.monotonic })
  k.pass(60 * 60_000)
  assert.equal(clock.expiryNow(), T + 60 * 60_000, 'a steady clock: expiry follows it')
  // The wall clock jumps back two years (a Pi after a reboot without network).
  k.c.wall = T - 730 * DAY
  k.c.mono += 60 * 60_000
  const back = clock.expiryNow()
  assert.equal(back, T + 2 * 60 * 60_000, 'expiry follows the floor (the real seconds that passed), not the wall clock')
  assert.equal(savedBefore(back, 20), String((T + 2 * 60 * 60_000 - 20 * DAY) / 1000), "doveadm's 10-digit Unix timestamp, 20 days before")
  // Now someone sets the date a year ahead by mistake.
  k.c.wall = T + 365 * DAY
  k.c.mono += 60 * 60_000
  const ahead = clock.expiryNow()
  assert.ok(ahead <= back + 60 * 60_000 + EXPIRY_CATCH_UP_MS, `expiry at ${new Date(ahead).toISOString()} may run at most one hour ahead of real time per hour`)
  assert.ok(ahead < T + 30 * DAY, 'mail saved in the last 20 days is still there')
})

test('after time off, expiry catches up at twice the speed of real time', () => {
  const k = clocks(T + 2 * DAY)
  const store = floorStore({ [FLOOR_KEY]: T, [EXPIRY_KEY]: T })
  const clock = new FloorClock({ store, wall: k.wall, monotonic: k.monotonic })
  let t = clock.expiryNow()
  assert.equal(t, T + EXPIRY_CATCH_UP_MS)
  for (let h = 0; h < 48; h++) {
    k.pass(60 * 60_000)
    t = clock.expiryNow()
  }
  assert.equal(t, k.c.wall, 'two days behind are made up in two days of running')
})

test('a certificate made while the wall clock is behind still lasts ten years from the real time', () => {
  assert.equal(certDays(T, T), CERT_DAYS)
  // The wall clock says 1970: the certificate starts then (harmless) and
  // gets the days it would lose, so it does not expire 46 years early.
  const days = certDays(T, 0)
  assert.ok(days * DAY >= T + CERT_DAYS * DAY, `${days} days from 1970 reach ten years past now`)
  assert.equal(certDays(T, T + DAY), CERT_DAYS, 'a wall clock ahead gets no extra days')
})
