// The selection rule on narrow and wide carriers, on a fresh database with
// the real migrations: a wide carrier takes everything, oldest first; a
// narrow one takes chat-sized messages first, then the rest up to its limit,
// and holds what is larger, which stays in the outbox until it is acked.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb, type Db } from '../../../server/db/index.js'
import { countDue, countHeld, dueBands, markDeparted, peerHasDueFor } from '../../../server/outbox/queue-query.js'
import { CHAT_MAX_BYTES, holdFor, sendBands, WIDE, type LinkWidth } from '../../../server/outbox/link-width.js'
import { resendPolicyFor } from '../../../server/outbox/resend-policy.js'
import { linkWidth, allConfigKeys } from '../../../server/transports/transport.js'
import { driverFor } from '../../../server/transports/registry.js'
import { TransportConfigError } from '../../../server/transports/transport.js'

let dir: string
let db: Db
const t0 = 1_900_000_000_000
const KIB = 1024
// Queued in this order, one second apart: a photo first, then chat, a long text, a voice message, more chat.
const MAIL: [string, number][] = [
  ['photo', 180 * KIB],
  ['text-1', 2300],
  ['long-text', 30 * KIB],
  ['receipt', 2100],
  ['voice', 60 * KIB],
  ['text-2', 2400],
]
const id = (name: string) => name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a')
const names = new Map(MAIL.map(([n]) => [id(n), n]))
const order = (link: LinkWidth, via = 'lora', now = t0) => dueBands(db, 'town', resendPolicyFor(via), now, link).flatMap((band) => [...band].map((r) => names.get(r.messageId)))

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'op-width-'))
  db = openDb(join(dir, 'outpost.db'))
  const insert = db.$client.prepare('INSERT INTO outbox (message_id, peer, sender, recipients, size, hops, queued_at, expires_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)')
  MAIL.forEach(([name, size], i) => insert.run(id(name), 'town', 'alice@camp.test', '["bob@town.test"]', size, t0 - 100_000 + i * 1000, t0 + 86_400_000))
})
after(() => {
  db.$client.close()
  rmSync(dir, { recursive: true, force: true })
})

test('a wide carrier takes everything that waits, oldest first', () => {
  assert.deepEqual(order(WIDE, 'folder'), ['photo', 'text-1', 'long-text', 'receipt', 'voice', 'text-2'])
  assert.equal(countHeld(db, 'town', WIDE), 0)
})

test('a narrow carrier sends chat first, oldest first, then the rest up to its limit, and holds what is larger', () => {
  const radio: LinkWidth = { narrow: true, maxMessageBytes: 64 * KIB }
  assert.deepEqual(order(radio), ['text-1', 'receipt', 'text-2', 'long-text', 'voice'])
  // Two bands: the chat-sized bundle is sealed (and so sent) before the long one.
  assert.deepEqual(sendBands(radio).map((b) => b.maxBytes), [CHAT_MAX_BYTES, 64 * KIB])
  assert.equal(countHeld(db, 'town', radio), 1)
  assert.equal(countDue(db, 'town', resendPolicyFor('lora'), t0, radio), 5)
})

test('LoRa\'s default limit of 8 KiB carries only the chat; a limit below chat size still keeps age order', () => {
  const lora = linkWidth(driverFor('lora')!, {})
  assert.deepEqual(lora, { narrow: true, maxMessageBytes: 8 * KIB })
  assert.deepEqual(order(lora), ['text-1', 'receipt', 'text-2'])
  assert.equal(countHeld(db, 'town', lora), 3)
  assert.deepEqual(order({ narrow: true, maxMessageBytes: 2300 }), ['text-1', 'receipt'])
})

test('a held message stays due for a wider carrier, and a narrow event carrier has nothing to do once chat left', () => {
  const lora = linkWidth(driverFor('lora')!, {})
  const chat = ['text-1', 'receipt', 'text-2'].map(id)
  assert.ok(peerHasDueFor(db, 'town', t0, lora))
  markDeparted(db, 'town', chat, 'bundle-radio', 'lora', t0)
  assert.deepEqual(order(lora, 'lora', t0 + 1000), [], 'the radio waits its resend timeout for the chat, and holds the rest')
  assert.equal(peerHasDueFor(db, 'town', t0 + 11 * 60_000, lora), false, 'only held mail is left for the radio')
  assert.ok(peerHasDueFor(db, 'town', t0 + 11 * 60_000, WIDE), 'a wide carrier still has the photo to take')
  assert.deepEqual(order(WIDE, 'folder', t0 + 1000), ['photo', 'text-1', 'long-text', 'receipt', 'voice', 'text-2'], 'a stick writes everything unacknowledged, the radio\'s chat too')
  const rows = db.$client.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }
  assert.equal(rows.n, MAIL.length, 'nothing left the outbox: only an ack removes a row')
})

test('every kind can be made narrow or wide by its settings, listed with its own', () => {
  const folder = driverFor('folder')!
  assert.deepEqual(linkWidth(folder, {}), WIDE)
  assert.deepEqual(linkWidth(folder, { narrow: 'yes' }), { narrow: true, maxMessageBytes: 64 * KIB })
  assert.deepEqual(linkWidth(folder, { max_message_kib: '300' }), { narrow: true, maxMessageBytes: 300 * KIB })
  assert.deepEqual(linkWidth(driverFor('lora')!, { narrow: 'no' }), WIDE)
  assert.deepEqual(linkWidth(driverFor('lora')!, { max_message_kib: '32' }), { narrow: true, maxMessageBytes: 32 * KIB })
  assert.throws(() => linkWidth(folder, { narrow: 'maybe' }), TransportConfigError)
  assert.throws(() => linkWidth(folder, { max_message_kib: '0' }), /max_message_kib must be a whole number/)
  assert.throws(() => linkWidth(folder, { narrow: 'no', max_message_kib: '8' }), /applies to a narrow carrier/)
  for (const kind of ['folder', 'http', 'nncp', 'lora']) assert.ok('narrow' in allConfigKeys(driverFor(kind)!) && 'max_message_kib' in allConfigKeys(driverFor(kind)!), kind)
})

test('the queue says why a message is held, and what to do when only narrow carriers reach the peer', () => {
  const radio = { id: 1, kind: 'lora', link: { narrow: true, maxMessageBytes: 8 * KIB } }
  const stick = { id: 2, kind: 'folder', link: WIDE }
  assert.equal(holdFor('town', 2300, [radio, stick]), null)
  assert.equal(holdFor('town', 180 * KIB, []), null, 'no carrier at all: nothing is held back by width')
  const wider = holdFor('town', 180 * KIB, [radio, stick])!
  assert.equal(wider.kind, 'wider')
  assert.match(wider.reason, /held for a wider carrier \(folder #2\)/)
  assert.match(wider.reason, /lora #1 takes up to 8 KiB/)
  const stuck = holdFor('town', 180 * KIB, [radio])!
  assert.equal(stuck.kind, 'only-narrow')
  assert.match(stuck.reason, /^held: only narrow carriers reach town; add a wider one, or raise the limit/)
})
