import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { deliveries } from '../../../server/db/schema.js'
import { deliver } from '../../../server/delivery/deliver.js'
import { LedgerWriter } from '../../../server/delivery/ledger-writer.js'
import { deliverySetup } from '../../helpers/fake-lmtp.js'

const setup = (t: { after(fn: () => unknown): void }, dataReply?: (rcpt: string) => string) => deliverySetup(t, 'outpost-ledger-', dataReply)

const message = (id: string, received = 'attempt 1') =>
  Buffer.from(`Received: ${received}\r\nMessage-ID: <${id}@camp.test>\r\nFrom: alice@camp.test\r\n\r\nhello ${id}\r\n`)

const nextTurn = () => new Promise((r) => setImmediate(r))

test('twenty concurrent deliveries commit their pending rows in one transaction, each on disk before Dovecot sees its message', async (t) => {
  const { db, lmtp, dir } = setup(t, (rcpt) => {
    // Another connection, as after a crash: the row must already be committed when the message reaches Dovecot.
    const other = openDb(join(dir, 'outpost.db'), { migrate: false })
    try {
      const rows = other.select().from(deliveries).all()
      return rows.some((r) => r.recipient === rcpt && r.state === 'pending') ? '250 2.0.0 Saved' : '451 4.3.0 no pending row committed before DATA'
    } finally {
      other.$client.close()
    }
  })
  await lmtp.listen()
  const errors: string[] = []
  const ledger = new LedgerWriter(db, (line) => errors.push(line))
  const recipients = Array.from({ length: 20 }, (_, i) => `user${i}@camp.test`)

  const outcomes = await Promise.all(
    recipients.map((r, i) => deliver({ db, ledger, lmtp: { socketPath: lmtp.path, lhloName: 'camp.test' }, sender: 'alice@camp.test', recipients: [r], message: message(`m${i}`) })),
  )

  assert.deepEqual(outcomes.map((o) => o.verdict), recipients.map(() => 'delivered'), outcomes.map((o) => o.text).join('; '))
  assert.equal(ledger.commits.pending, 1, 'one commit (one fsync) for all twenty pending rows')
  await nextTurn()
  assert.deepEqual(db.select({ state: deliveries.state }).from(deliveries).all().map((r) => r.state), recipients.map(() => 'delivered'))
  assert.deepEqual(errors, [])
})

test("a crash before the deferred 'delivered' write: the row stays pending, and the retry finds the message in the mailbox and does not deliver it again", async (t) => {
  const { db, lmtp, dir } = setup(t)
  await lmtp.listen()
  const mailDir = join(dir, 'mail')
  const input = { lmtp: { socketPath: lmtp.path, lhloName: 'camp.test' }, sender: 'alice@camp.test', recipients: ['bob@camp.test'], mailDir }

  // The first attempt's process: its own connection, gone before the deferred write (as kill -9 would take it).
  const doomed = openDb(join(dir, 'outpost.db'), { migrate: false })
  const errors: string[] = []
  const first = await deliver({ ...input, db: doomed, ledger: new LedgerWriter(doomed, (line) => errors.push(line)), message: message('m1') })
  assert.equal(first.verdict, 'delivered')
  doomed.$client.close()
  await nextTurn()
  assert.match(errors.join('\n'), /stay 'pending'/, 'the lost write is reported, not swallowed')
  assert.deepEqual(db.select({ state: deliveries.state }).from(deliveries).all(), [{ state: 'pending' }])
  // Dovecot had stored it (LMTP answered 250): the file is in the mailbox.
  const newDir = join(mailDir, 'camp.test', 'bob', 'Maildir', 'new')
  mkdirSync(newDir, { recursive: true })
  writeFileSync(join(newDir, `${Math.floor(Date.now() / 1000)}.M1P1.camp`), lmtp.received[0]!.data)

  // The client never saw the 250 and sends the message again to the restarted node.
  const retry = await deliver({ ...input, db, ledger: new LedgerWriter(db, (line) => errors.push(line)), message: message('m1', 'attempt 2') })
  assert.equal(retry.verdict, 'delivered')
  assert.deepEqual(retry.alreadyDelivered, ['bob@camp.test'])
  assert.equal(lmtp.received.length, 1, 'the retry did not hand the message to Dovecot again')
  assert.deepEqual(db.select({ state: deliveries.state }).from(deliveries).all(), [{ state: 'delivered' }])
})

test("a retry in the same process before the deferred write is flushed reads what the ledger already knows, without a mailbox", async (t) => {
  let bobFull = true
  const { db, lmtp } = setup(t, (r) => (r === 'bob@camp.test' && bobFull ? '452 4.2.2 Mailbox is full' : '250 2.0.0 Saved'))
  await lmtp.listen()
  const ledger = new LedgerWriter(db, (line) => assert.fail(line))
  const input = { db, ledger, lmtp: { socketPath: lmtp.path, lhloName: 'camp.test' }, sender: 'alice@camp.test', recipients: ['carol@camp.test', 'bob@camp.test'] }

  const first = await deliver({ ...input, message: message('m1') })
  assert.equal(first.verdict, 'retry')
  bobFull = false
  // No turn of the event loop in between: carol's 'delivered' is still queued.
  const second = await deliver({ ...input, message: message('m1', 'attempt 2') })
  assert.equal(second.verdict, 'delivered')
  assert.deepEqual(second.alreadyDelivered, ['carol@camp.test'])
  assert.deepEqual(lmtp.stored.map((s) => s.recipient), ['carol@camp.test', 'bob@camp.test'], 'carol got it once')
  await nextTurn()
  assert.deepEqual(db.select({ state: deliveries.state }).from(deliveries).all(), [{ state: 'delivered' }, { state: 'delivered' }])
})

test("the 'delivered' updates of one turn are one commit, written after the callers went on", async (t) => {
  const { db } = setup(t)
  const ledger = new LedgerWriter(db, (line) => assert.fail(line))
  await Promise.all(['m1', 'm2', 'm3'].map((k) => ledger.pending({ messageKey: k, recipients: ['bob@camp.test'], at: 1 })))
  for (const k of ['m1', 'm2', 'm3']) ledger.delivered({ messageKey: k, recipients: ['bob@camp.test'], at: 2 })
  assert.deepEqual(db.select({ state: deliveries.state }).from(deliveries).all().map((r) => r.state), ['pending', 'pending', 'pending'], 'nothing written before the answer')
  await nextTurn()
  assert.equal(ledger.commits.delivered, 1)
  assert.deepEqual(db.select({ state: deliveries.state, at: deliveries.deliveredAt }).from(deliveries).all(), [1, 2, 3].map(() => ({ state: 'delivered', at: 2 })))
})

test('a pending commit that fails fails every delivery of its batch before any reaches Dovecot', async (t) => {
  const { db, lmtp, dir } = setup(t)
  await lmtp.listen()
  const broken = openDb(join(dir, 'outpost.db'), { migrate: false })
  const ledger = new LedgerWriter(broken, () => undefined)
  broken.$client.exec('CREATE TRIGGER refuse BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, "disk full"); END')
  t.after(() => broken.$client.close())

  const attempts = ['m1', 'm2', 'm3'].map((id) =>
    deliver({ db: broken, ledger, lmtp: { socketPath: lmtp.path, lhloName: 'camp.test' }, sender: 'alice@camp.test', recipients: ['bob@camp.test'], message: message(id) }),
  )
  for (const a of attempts) await assert.rejects(a, /disk full/)
  assert.equal(lmtp.received.length, 0)
  assert.deepEqual(db.select().from(deliveries).all(), [])
})
