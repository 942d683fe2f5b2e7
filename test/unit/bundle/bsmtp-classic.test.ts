// The classic dialect of batch SMTP: what Exim's pipe transport writes with
// use_bsmtp for a classic peer (no X-Outpost-Id line, no QUIT), read by the
// same strict reader. The fixture is a batch Exim 4.96 wrote.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { BsmtpError, parseBsmtp, writeBsmtp, type BsmtpMessage } from '../../../server/bundle/bsmtp.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'

const EXIM_BATCH = readFileSync(new URL('./fixtures/exim-4.96-use_bsmtp.bsmtp', import.meta.url))
const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1')

function rejects(buf: Buffer, pattern: RegExp): BsmtpError {
  let caught: unknown
  try {
    parseBsmtp(buf, {}, 'classic')
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof BsmtpError, `expected a BsmtpError, got ${String(caught)}`)
  assert.match(caught.message, pattern)
  return caught
}

const ONE = 'MAIL FROM:<bob@oldtown.test>\nRCPT TO:<alice@camp.test>\nDATA\nMessage-ID: <1@oldtown.test>\nFrom: bob@oldtown.test\n\nhi\n.\n'

test('a batch written by Exim 4.96 with use_bsmtp reads as one message with its envelope, un-stuffed, keyed by the ledger key', () => {
  const [m, ...rest] = parseBsmtp(EXIM_BATCH, {}, 'classic')
  assert.equal(rest.length, 0)
  assert.equal(m!.sender, 'bob@oldtown.test')
  assert.deepEqual(m!.recipients, ['alice@camp.test', 'carol@camp.test'])
  const text = m!.data.toString('latin1')
  assert.match(text, /^Received: from root by oldtown\.test/)
  assert.match(text, /\r\nhello\r\n\.a line with a dot\r\n$/)
  assert.equal(m!.id, stableMessageId(m!.data, 'bob@oldtown.test'))
})

test('the same batch in the Outpost dialect is refused: it has neither X-Outpost-Id nor QUIT', () => {
  assert.throws(() => parseBsmtp(EXIM_BATCH), /X-Outpost-Id/)
})

test('the key does not change when the batch is fed again with another Received line, so the ledger sees the same message', () => {
  const a = parseBsmtp(crlf(ONE), {}, 'classic')[0]!
  const b = parseBsmtp(crlf(ONE.replace('DATA\n', 'DATA\nReceived: from elsewhere by oldtown.test; Mon, 7 Dec 2026 11:00:00 +0000\n')), {}, 'classic')[0]!
  assert.equal(a.id, b.id)
  const other = parseBsmtp(crlf(ONE.replace('hi\n', 'hello\n')), {}, 'classic')[0]!
  assert.notEqual(a.id, other.id)
})

test('QUIT at the end, a HELO first and several messages are all read', () => {
  const batch = crlf(`HELO oldtown.test\n${ONE}${ONE.replace('<1@', '<2@')}QUIT\n`)
  const ms = parseBsmtp(batch, {}, 'classic')
  assert.equal(ms.length, 2)
  assert.notEqual(ms[0]!.id, ms[1]!.id)
})

test('an empty batch, or one that holds only QUIT, is not a batch from a peer that has mail', () => {
  rejects(Buffer.alloc(0), /truncated/)
  assert.deepEqual(parseBsmtp(crlf('QUIT\n'), {}, 'classic'), [])
})

test('bare LF line ends (a peer without use_crlf) are refused, in the commands and in the data', () => {
  rejects(Buffer.from(ONE, 'latin1'), /bare LF/)
  rejects(Buffer.from(crlf(ONE).toString('latin1').replace('hi\r\n', 'hi\nsmuggled\r\n'), 'latin1'), /bare LF or CR/)
})

test('a batch cut inside a message (no final ".") or inside the envelope is refused as truncated', () => {
  const whole = crlf(ONE)
  rejects(whole.subarray(0, whole.length - 3), /truncated/)
  rejects(crlf(`${ONE}MAIL FROM:<bob@oldtown.test>\nRCPT TO:<alice@camp.test>\n`), /truncated/)
  rejects(crlf(`${ONE}MAIL FROM:<bob@oldtown.test>\n`), /truncated/)
})

test('anything after QUIT, ESMTP parameters and unknown commands are refused', () => {
  rejects(crlf(`${ONE}QUIT\n${ONE}`), /nothing after QUIT/)
  rejects(crlf(ONE.replace('<bob@oldtown.test>\n', '<bob@oldtown.test> SIZE=100\n')), /ESMTP parameters/)
  rejects(crlf(`RSET\n${ONE}`), /MAIL FROM/)
})

test('the writer\'s classic batch carries no X-Outpost-Id and reads back as the same message under the ledger key', () => {
  const data = crlf('Message-ID: <7@camp.test>\nFrom: alice@camp.test\n\n.dot\n')
  const m: BsmtpMessage = { sender: 'alice@camp.test', recipients: ['bob@oldtown.test'], data, id: stableMessageId(data, 'alice@camp.test') }
  const batch = writeBsmtp([m], { dialect: 'classic' })
  assert.doesNotMatch(batch.toString('latin1'), /X-Outpost-Id/)
  assert.match(batch.toString('latin1'), /\r\n\.\.dot\r\n\.\r\nQUIT\r\n$/)
  const [back] = parseBsmtp(batch, {}, 'classic')
  assert.ok(back!.data.equals(data))
  assert.equal(back!.id, m.id)
})
