// Import's local delivery: many messages over a few LMTP sessions (one per lane of mailboxes), the ledger
// written once on each side of a batch, and the same per-recipient answers
// and retries as one message at a time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb, type Db } from '../../../server/db/index.js'
import { deliveries } from '../../../server/db/schema.js'
import { BatchDelivery, BULK_MIN, IMPORT_LANES, laneOf, type BatchMessage } from '../../../server/delivery/batch.js'
import { stagedMessage, type BulkMessage, type BulkStore } from '../../../server/delivery/bulk-store.js'
import { DELIVERY_HEADER } from '../../../server/delivery/deliver.js'
import { FakeLmtp, type FakeLmtpOptions } from '../../helpers/fake-lmtp.js'

function setup(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-batch-'))
  const db = openDb(join(dir, 'outpost.db'))
  const fakes: FakeLmtp[] = []
  const socket = join(dir, 'lmtp')
  const serve = (opts: FakeLmtpOptions = {}) => {
    const f = new FakeLmtp(socket, opts)
    fakes.push(f)
    return f.listen()
  }
  const batch = () => new BatchDelivery({ db, lmtp: { socketPath: socket, lhloName: 'town.test', timeoutMs: 5000 }, mailDir: join(dir, 'mail') })
  t.after(async () => {
    for (const f of fakes) await f.close()
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { db, dir, serve, batch }
}

const msg = (n: number, recipients = ['bob@town.test']): BatchMessage => ({
  key: `k${n}`.padEnd(64, '0'),
  sender: 'alice@camp.test',
  recipients,
  message: Buffer.from(`Message-ID: <m${n}@camp.test>\r\nFrom: alice@camp.test\r\n\r\nhello ${n}\r\n`),
})

const rows = (db: Db) =>
  db
    .select()
    .from(deliveries)
    .all()
    .map((r) => `${r.messageKey.slice(0, 3).replace(/0+$/, '')} ${r.recipient} ${r.state}`)
    .sort()

/** Which messages (by their "hello N" line) each recipient has, in order. */
const storedBy = (fakes: FakeLmtp[]) => fakes.flatMap((f) => f.stored.map((s) => `${s.recipient} ${/hello (\d+)/.exec(s.data)![1]}`))

test('a batch goes over one LMTP session, each message once; the same batch again reaches nobody', async (t) => {
  const { db, serve, batch } = setup(t)
  const lmtp = await serve()
  const b = batch()
  const messages = [1, 2, 3, 4, 5].map((n) => msg(n))
  const first = await b.deliver(messages)
  await b.close()
  assert.deepEqual(first.map((o) => o.verdict), ['delivered', 'delivered', 'delivered', 'delivered', 'delivered'])
  assert.equal(lmtp.sessions, 1, 'one connection for the whole batch')
  assert.deepEqual(storedBy([lmtp]), [1, 2, 3, 4, 5].map((n) => `bob@town.test ${n}`))
  // Each file carries the trace header that a crashed attempt is settled by.
  assert.match(lmtp.stored[0]!.data, new RegExp(`^${DELIVERY_HEADER}: k1`))
  assert.deepEqual(rows(db), ['k1 bob@town.test delivered', 'k2 bob@town.test delivered', 'k3 bob@town.test delivered', 'k4 bob@town.test delivered', 'k5 bob@town.test delivered'])

  const again = await batch().deliver(messages)
  assert.deepEqual(again.map((o) => [o.verdict, o.alreadyDelivered]), messages.map(() => ['delivered', ['bob@town.test']]))
  assert.equal(lmtp.sessions, 1, 'nothing to deliver: no session at all')
})

test('a recipient refused in the middle of the session: the others of that message and the next messages are delivered, on the same session', async (t) => {
  const { db, serve, batch } = setup(t)
  const lmtp = await serve({ rcptReply: (r) => (r === 'carol@town.test' ? '550 5.1.1 <carol@town.test> User doesn\'t exist' : '250 2.1.5 OK') })
  const b = batch()
  const out = await b.deliver([msg(1), msg(2, ['bob@town.test', 'carol@town.test']), msg(3, ['carol@town.test']), msg(4)])
  await b.close()
  assert.deepEqual(out.map((o) => o.verdict), ['delivered', 'rejected', 'rejected', 'delivered'])
  assert.match(out[1]!.text, /^5\.1\.1 Delivery failed \(1 of 2 recipients have it\).*carol@town\.test.*550/)
  // One session for each mailbox lane the batch's first recipients fall in.
  assert.equal(lmtp.sessions, new Set(['bob@town.test', 'carol@town.test'].map((r) => laneOf(r))).size)
  assert.deepEqual(storedBy([lmtp]), ['bob@town.test 1', 'bob@town.test 2', 'bob@town.test 4'])
  // A refusal before the message went out proves nobody has it: no row stays.
  assert.deepEqual(rows(db), ['k1 bob@town.test delivered', 'k2 bob@town.test delivered', 'k4 bob@town.test delivered'])
})

test('a 4xx for one message: the rest are delivered; the retry delivers that one only, once', async (t) => {
  const { db, serve, batch } = setup(t)
  let full = true
  const fake = await serve({ dataReply: (r) => (r === 'dave@town.test' && full ? '452 4.2.2 Mailbox is full' : '250 2.0.0 Saved') })
  const messages = [msg(1), msg(2, ['dave@town.test']), msg(3)]
  const b = batch()
  const out = await b.deliver(messages)
  assert.deepEqual(out.map((o) => o.verdict), ['delivered', 'retry', 'delivered'])
  assert.match(out[1]!.text, /^4\.2\.0 .*452 4\.2\.2 Mailbox is full/)
  // Answered to the message itself: Dovecot may have stored it after all, so the row stays pending.
  assert.deepEqual(rows(db), ['k1 bob@town.test delivered', 'k2 dave@town.test pending', 'k3 bob@town.test delivered'])

  full = false
  const opened = fake.sessions
  const retry = await b.deliver(messages)
  await b.close()
  assert.deepEqual(retry.map((o) => o.verdict), ['delivered', 'delivered', 'delivered'])
  assert.deepEqual(storedBy([fake]), ['bob@town.test 1', 'bob@town.test 3', 'dave@town.test 2'])
  assert.equal(fake.sessions, opened, 'the sessions stay open from batch to batch')
  assert.deepEqual(rows(db), ['k1 bob@town.test delivered', 'k2 dave@town.test delivered', 'k3 bob@town.test delivered'])
})

test('Dovecot stops in the middle of a batch: what it answered is recorded, the rest comes back as retry, and the next attempt delivers each message exactly once', async (t) => {
  const { db, serve, batch } = setup(t)
  // Dies as the third message's final dot arrives, before it answers.
  const dying = await serve({ hangUpAt: 3 })
  const messages = [1, 2, 3, 4, 5].map((n) => msg(n))
  const b = batch()
  const out = await b.deliver(messages)
  assert.deepEqual(out.map((o) => o.verdict), ['delivered', 'delivered', 'retry', 'retry', 'retry'])
  assert.match(out[2]!.text, /^4\.4\.2 Local delivery is unavailable/)
  // The third was sent: it may be in the mailbox, so its row stays pending. The
  // fourth and fifth never went out: nobody has them, no row.
  assert.deepEqual(rows(db), ['k1 bob@town.test delivered', 'k2 bob@town.test delivered', 'k3 bob@town.test pending'])
  await dying.close()

  // Still down: every message not yet delivered is a retry. The third's
  // mailbox was read first and does not have it, so its row goes too.
  const down = await b.deliver(messages)
  assert.deepEqual(down.map((o) => o.verdict), ['delivered', 'delivered', 'retry', 'retry', 'retry'])
  assert.deepEqual(rows(db), ['k1 bob@town.test delivered', 'k2 bob@town.test delivered'])

  // Back: the rest goes, each once.
  const back = await serve()
  const done = await b.deliver(messages)
  await b.close()
  assert.deepEqual(done.map((o) => o.verdict), ['delivered', 'delivered', 'delivered', 'delivered', 'delivered'])
  assert.deepEqual(storedBy([dying, back]), [1, 2, 3, 4, 5].map((n) => `bob@town.test ${n}`))
  assert.deepEqual(rows(db), [1, 2, 3, 4, 5].map((n) => `k${n} bob@town.test delivered`))
})

test('pending rows a crash left are settled from the mailbox in one pass: what is there is not delivered again', async (t) => {
  const { db, dir, serve, batch } = setup(t)
  const lmtp = await serve()
  const messages = [1, 2, 3].map((n) => msg(n))
  // A crash after Dovecot stored messages 1 and 2 but before the ledger said so.
  const at = Date.now()
  db.insert(deliveries).values(messages.map((m) => ({ messageKey: m.key, recipient: 'bob@town.test', deliveredAt: at, state: 'pending' as const }))).run()
  const newDir = join(dir, 'mail', 'town.test', 'bob', 'Maildir', 'new')
  mkdirSync(newDir, { recursive: true })
  for (const m of messages.slice(0, 2)) writeFileSync(join(newDir, `${m.key}.file`), Buffer.concat([Buffer.from(`${DELIVERY_HEADER}: ${m.key}\r\n`), m.message]))

  const b = batch()
  const out = await b.deliver(messages)
  await b.close()
  assert.deepEqual(out.map((o) => o.verdict), ['delivered', 'delivered', 'delivered'])
  assert.deepEqual(out.map((o) => o.alreadyDelivered.length), [1, 1, 0])
  assert.deepEqual(storedBy([lmtp]), ['bob@town.test 3'], 'only the message the mailbox lacked is sent')
  assert.deepEqual(rows(db), [1, 2, 3].map((n) => `k${n} bob@town.test delivered`))
})

test('a batch for many mailboxes goes over several sessions at once, each mailbox in its order, each message once', async (t) => {
  const { db, serve, batch } = setup(t)
  const lmtp = await serve()
  const people = Array.from({ length: 12 }, (_, i) => `user${i}@town.test`)
  // Numbered 11-58: msg()'s padded keys of 1-9 would equal those of 10, 20, ...
  const messages = Array.from({ length: 48 }, (_, n) => msg(n + 11, [people[n % people.length]!]))
  const b = batch()
  const out = await b.deliver(messages)
  await b.close()
  assert.ok(out.every((o) => o.verdict === 'delivered'))
  const lanes = new Set(people.map((p) => laneOf(p)))
  assert.ok(lanes.size > 1 && lanes.size <= IMPORT_LANES, `the recipients fall in ${lanes.size} lanes`)
  assert.equal(lmtp.sessions, lanes.size, 'one session per lane in use')
  // Each mailbox got its messages once, in the bundle's order.
  for (const p of people) {
    const got = lmtp.stored.filter((s) => s.recipient === p).map((s) => Number(/hello (\d+)/.exec(s.data)![1]))
    const want = messages.filter((m) => m.recipients[0] === p).map((m) => Number(/hello (\d+)/.exec(m.message.toString())![1]))
    assert.deepEqual(got, want, p)
  }
  assert.equal(rows(db).length, 48)
  assert.ok(rows(db).every((r) => r.endsWith(' delivered')))
})

/** msg() with a key that stays distinct past 9 messages. */
const bmsg = (n: number, recipients?: string[]): BatchMessage => ({ ...msg(n, recipients), key: `b${n}x`.padEnd(64, '0') })

/** A bulk store that writes what it stores into the mail dir as Dovecot would, and can fail part-way. */
class FakeBulk implements BulkStore {
  readonly calls: { recipient: string; keys: string[] }[] = []
  constructor(
    private readonly mailDir: string,
    private readonly failAfter = new Map<string, number>(),
  ) {}
  async store(recipient: string, messages: readonly BulkMessage[]): Promise<void> {
    this.calls.push({ recipient, keys: messages.map((m) => m.key) })
    const [local, domain] = recipient.split('@') as [string, string]
    const dir = join(this.mailDir, domain, local, 'Maildir', 'new')
    mkdirSync(dir, { recursive: true })
    const limit = this.failAfter.get(recipient) ?? Infinity
    for (const [i, m] of messages.entries()) {
      if (i >= limit) throw new Error('Quota exceeded')
      writeFileSync(join(dir, `${m.key}.bulk`), stagedMessage(m, recipient))
    }
  }
}

test('a recipient with many messages in a batch gets them in one bulk store, the others over LMTP; each message once', async (t) => {
  const { db, dir, serve } = setup(t)
  const lmtp = await serve()
  const bulk = new FakeBulk(join(dir, 'mail'))
  const b = new BatchDelivery({ db, lmtp: { socketPath: join(dir, 'lmtp'), lhloName: 'town.test', timeoutMs: 5000 }, mailDir: join(dir, 'mail'), bulk })
  // bob has BULK_MIN messages, carol 2; the last one goes to both.
  const messages = Array.from({ length: BULK_MIN }, (_, n) => bmsg(n, n === BULK_MIN - 1 ? ['bob@town.test', 'carol@town.test'] : ['bob@town.test']))
  messages.push(bmsg(100, ['carol@town.test']))
  const outcomes = await b.deliver(messages)
  await b.close()
  assert.ok(outcomes.every((o) => o.verdict === 'delivered'), JSON.stringify(outcomes.map((o) => o.text)))
  assert.deepEqual(bulk.calls.map((c) => [c.recipient, c.keys.length]), [['bob@town.test', BULK_MIN]], 'bob in one store, in the batch order')
  assert.deepEqual(bulk.calls[0]!.keys, messages.slice(0, BULK_MIN).map((m) => m.key))
  assert.deepEqual(storedBy([lmtp]), [`carol@town.test ${BULK_MIN - 1}`, 'carol@town.test 100'], 'carol over LMTP, bob never')
  assert.ok(rows(db).every((r) => r.endsWith(' delivered')) && rows(db).length === BULK_MIN + 2)
  // The same batch again reaches nobody.
  const again = await new BatchDelivery({ db, lmtp: { socketPath: join(dir, 'lmtp'), lhloName: 'town.test', timeoutMs: 5000 }, mailDir: join(dir, 'mail'), bulk }).deliver(messages)
  assert.ok(again.every((o) => o.verdict === 'delivered' && o.results.length === 0))
  assert.equal(bulk.calls.length, 1)
  assert.equal(lmtp.stored.length, 2)
})

test('a bulk store that fails part-way: what the mailbox has counts, the rest goes over LMTP, nothing twice', async (t) => {
  const { db, dir, serve } = setup(t)
  // LMTP refuses bob as over quota, as Dovecot would once the quota is full.
  const lmtp = await serve({ rcptReply: (r) => (r === 'bob@town.test' ? '552 5.2.2 <bob@town.test> Quota exceeded (mailbox for user is full)' : '250 2.1.5 OK') })
  const bulk = new FakeBulk(join(dir, 'mail'), new Map([['bob@town.test', 10]]))
  const b = new BatchDelivery({ db, lmtp: { socketPath: join(dir, 'lmtp'), lhloName: 'town.test', timeoutMs: 5000 }, mailDir: join(dir, 'mail'), bulk })
  const messages = Array.from({ length: BULK_MIN + 5 }, (_, n) => bmsg(n))
  const outcomes = await b.deliver(messages)
  await b.close()
  assert.deepEqual(outcomes.map((o) => o.verdict), messages.map((_, n) => (n < 10 ? 'delivered' : 'rejected')))
  assert.match(outcomes[10]!.text, /Quota exceeded/)
  assert.equal(lmtp.stored.length, 0)
  const r = rows(db)
  assert.equal(r.length, 10, 'refused rows are forgotten, stored ones delivered')
  assert.ok(r.every((x) => x.endsWith(' delivered')))
})
