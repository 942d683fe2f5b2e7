import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { deliveries } from '../../../server/db/schema.js'
import { deliver } from '../../../server/delivery/deliver.js'
import { messageKey } from '../../../server/bundle/message-id.js'
import { readMessage } from '../../../server/haraka/lib/read-message.js'
import type { MessageStream } from '../../../server/haraka/lib/haraka-api.js'
import { deliverySetup } from '../../helpers/fake-lmtp.js'

const setup = (t: { after(fn: () => unknown): void }, dataReply?: (rcpt: string) => string) => deliverySetup(t, 'outpost-delivery-', dataReply)

const message = (received: string) =>
  Buffer.from(`Received: ${received}\r\nMessage-ID: <m1@camp.test>\r\nFrom: alice@camp.test\r\n\r\nhello\r\n`)

test('a retry after a partial failure delivers only to the missing recipient', async (t) => {
  let bobFull = true
  const { db, lmtp } = setup(t, (r) => (r === 'bob@camp.test' && bobFull ? '452 4.2.2 Mailbox is full' : '250 2.0.0 Saved'))
  await lmtp.listen()
  const input = { db, lmtp: { socketPath: lmtp.path, lhloName: 'camp.test' }, sender: 'alice@camp.test', recipients: ['carol@camp.test', 'bob@camp.test'] }

  const first = await deliver({ ...input, message: message('attempt 1') })
  assert.equal(first.verdict, 'retry')
  assert.match(first.text, /^4\.2\.0 /)
  assert.match(first.text, /bob@camp\.test.*452 4\.2\.2 Mailbox is full/)
  assert.deepEqual(lmtp.stored.map((s) => s.recipient), ['carol@camp.test'])

  bobFull = false
  // Haraka's Received header differs between attempts; the key must not.
  const second = await deliver({ ...input, message: message('attempt 2') })
  assert.equal(second.verdict, 'delivered')
  assert.deepEqual(second.alreadyDelivered, ['carol@camp.test'])
  assert.deepEqual(lmtp.stored.map((s) => s.recipient), ['carol@camp.test', 'bob@camp.test'])
  assert.deepEqual(lmtp.received[1]!.recipients, ['bob@camp.test'])

  const third = await deliver({ ...input, message: message('attempt 3') })
  assert.equal(third.verdict, 'delivered')
  assert.equal(lmtp.received.length, 2, 'a third attempt reaches nobody')
  assert.equal(db.select().from(deliveries).all().length, 2)
})

test('a temporary failure answered to the message keeps the row pending: if the file is in the mailbox after all, the retry does not deliver again', async (t) => {
  let attempt = 0
  const { db, lmtp, dir } = setup(t, () => (attempt === 1 ? '451 4.3.0 Temporary internal error' : '250 2.0.0 Saved'))
  await lmtp.listen()
  const mailDir = join(dir, 'mail')
  const input = { db, lmtp: { socketPath: lmtp.path, lhloName: 'camp.test' }, sender: 'alice@camp.test', recipients: ['bob@camp.test'], mailDir }

  attempt = 1
  const first = await deliver({ ...input, message: message('attempt 1') })
  assert.equal(first.verdict, 'retry')
  assert.deepEqual(db.select({ state: deliveries.state }).from(deliveries).all(), [{ state: 'pending' }], 'the row stays pending')
  // Dovecot had renamed the file into new/ before it failed (as in a shutdown in the middle of its commit).
  const newDir = join(mailDir, 'camp.test', 'bob', 'Maildir', 'new')
  mkdirSync(newDir, { recursive: true })
  writeFileSync(join(newDir, `${Math.floor(Date.now() / 1000)}.M1P1.camp`), lmtp.received[0]!.data)

  attempt = 2
  const second = await deliver({ ...input, message: message('attempt 2') })
  assert.equal(second.verdict, 'delivered')
  assert.deepEqual(second.alreadyDelivered, ['bob@camp.test'])
  assert.equal(lmtp.received.length, 1, 'the retry found the file and did not hand the message over again')
  assert.deepEqual(db.select({ state: deliveries.state }).from(deliveries).all(), [{ state: 'delivered' }])
})

test('a temporary failure with nothing in the mailbox: the retry delivers, once', async (t) => {
  let attempt = 1
  const { db, lmtp, dir } = setup(t, () => (attempt === 1 ? '451 4.3.0 Temporary internal error' : '250 2.0.0 Saved'))
  await lmtp.listen()
  const input = { db, lmtp: { socketPath: lmtp.path, lhloName: 'camp.test' }, sender: 'alice@camp.test', recipients: ['bob@camp.test'], mailDir: join(dir, 'mail') }
  assert.equal((await deliver({ ...input, message: message('attempt 1') })).verdict, 'retry')
  attempt = 2
  assert.equal((await deliver({ ...input, message: message('attempt 2') })).verdict, 'delivered')
  assert.equal((await deliver({ ...input, message: message('attempt 3') })).verdict, 'delivered')
  assert.deepEqual(lmtp.stored.map((s) => s.recipient), ['bob@camp.test'], 'stored once')
})

test('only permanent failures: rejected with the LMTP text, nothing recorded', async (t) => {
  const { db, lmtp } = setup(t, () => '552 5.2.2 Quota exceeded')
  await lmtp.listen()
  const out = await deliver({ db, lmtp: { socketPath: lmtp.path, lhloName: 'x' }, sender: 'alice@camp.test', recipients: ['bob@camp.test'], message: message('r') })
  assert.equal(out.verdict, 'rejected')
  assert.match(out.text, /^5\.2\.2 .*Quota exceeded/)
  assert.equal(db.select().from(deliveries).all().length, 0)
})

test('Dovecot not running: retry, nothing recorded', async (t) => {
  const { db, lmtp } = setup(t)
  const out = await deliver({ db, lmtp: { socketPath: lmtp.path, lhloName: 'x' }, sender: 'a@camp.test', recipients: ['b@camp.test'], message: message('r') })
  assert.equal(out.verdict, 'retry')
  assert.match(out.text, /^4\.4\.2 .*Dovecot/)
  assert.equal(db.select().from(deliveries).all().length, 0)
})

test('the message key depends on Message-ID, sender, the authored header and body, not on trace headers', () => {
  const k = (m: string, s = 'a@x') => messageKey(Buffer.from(m), s)
  const base = k('Received: 1\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n')
  assert.equal(k('Received: 2\r\nMessage-Id: <1@x>\r\n\r\nbody\r\n'), base)
  assert.equal(k('Received: 1\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n', 'A@X'), base)
  assert.notEqual(k('Received: 1\r\nMessage-ID: <2@x>\r\n\r\nbody\r\n'), base)
  assert.notEqual(k('Received: 1\r\nMessage-ID: <1@x>\r\n\r\nbody!\r\n'), base)
  assert.notEqual(k('Received: 1\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n', 'b@x'), base)
  // Hops add these; a retry through another session or bundle keeps its key.
  assert.equal(k('X-Outpost-Id: 00\r\nReceived: 1\r\n\tfolded\r\nAuthentication-Results: h; auth=pass\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n'), base)
  // A client that builds its retry anew gives it a new Date: still the same message.
  assert.equal(k('Date: Mon, 07 Dec 2026 05:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n'), k('Date: Mon, 07 Dec 2026 05:09:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n'))
  // Two messages with the same Message-ID (or none), sender and body are still two messages.
  assert.notEqual(k('Received: 1\r\nMessage-ID: <1@x>\r\nSubject: two\r\n\r\nbody\r\n'), base)
  assert.notEqual(k('Subject: a\r\n\r\nbody\r\n'), k('Subject: b\r\n\r\nbody\r\n'))
})

test('a ledger row older than the retry window is another message: it is delivered again', async (t) => {
  const { db, lmtp } = setup(t)
  await lmtp.listen()
  let clock = 1_000_000
  const input = { db, lmtp: { socketPath: lmtp.path, lhloName: 'camp.test' }, sender: 'alice@camp.test', recipients: ['bob@camp.test'], message: message('x'), retryWindowMs: 1000, now: () => clock }
  assert.equal((await deliver(input)).verdict, 'delivered')
  clock += 999
  assert.equal((await deliver(input)).alreadyDelivered.length, 1, 'within the window: a retry')
  clock += 2000
  const later = await deliver(input)
  assert.deepEqual(later.alreadyDelivered, [])
  assert.equal(lmtp.stored.length, 2)
})

function streamOf(data: Buffer): MessageStream {
  return {
    pipe(dest) {
      const src = new PassThrough()
      src.pipe(dest)
      src.end(data)
      return dest
    },
  }
}

test('readMessage reads the whole message and refuses more than the cap', async () => {
  assert.equal((await readMessage(streamOf(Buffer.from('abc')), 3)).toString(), 'abc')
  await assert.rejects(readMessage(streamOf(Buffer.alloc(10)), 9), /larger than the 9-byte limit/)
})
