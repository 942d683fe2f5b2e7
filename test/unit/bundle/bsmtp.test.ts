import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { BsmtpError, parseBsmtp, writeBsmtp, type BsmtpMessage } from '../../../server/bundle/bsmtp.js'

const idOf = (s: string) => createHash('sha256').update(s).digest('hex')
const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1')

function msg(n: number, body: string, over: Partial<BsmtpMessage> = {}): BsmtpMessage {
  return {
    sender: `sender${n}@alpha.test`,
    recipients: [`a${n}@beta.test`, `b${n}@beta.test`],
    data: crlf(`Message-ID: <${n}@alpha.test>\nSubject: test ${n}\n\n${body}`),
    id: idOf(`m${n}`),
    ...over,
  }
}

function rejects(buf: Buffer, kind: BsmtpError['kind'], pattern: RegExp, limits = {}): BsmtpError {
  let caught: unknown
  try {
    parseBsmtp(buf, limits)
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof BsmtpError, `expected a BsmtpError, got ${String(caught)}`)
  assert.equal(caught.kind, kind)
  assert.match(caught.message, pattern)
  return caught
}

test('what the writer writes, the reader reads back byte for byte, ids included', () => {
  const messages = [
    msg(1, 'hello\n'),
    msg(2, '-----BEGIN PGP MESSAGE-----\n\nwcFMA\n=abcd\n-----END PGP MESSAGE-----\n', { sender: '' }),
    msg(3, '.\n..\n.leading dot\nend .\n.\n', { recipients: ['only@beta.test'] }),
    { sender: 's@alpha.test', recipients: ['r@beta.test'], data: crlf('.starts with a dot\n'), id: idOf('m4') },
  ]
  const batch = writeBsmtp(messages)
  const back = parseBsmtp(batch)
  assert.equal(back.length, messages.length)
  for (const [i, m] of messages.entries()) {
    assert.equal(back[i]!.sender, m.sender)
    assert.deepEqual(back[i]!.recipients, m.recipients)
    assert.equal(back[i]!.id, m.id)
    assert.ok(back[i]!.data.equals(m.data), `message ${i + 1} data differs`)
  }
})

test('the batch is plain batch SMTP an MTA can read: envelope lines, X-Outpost-Id first in the data, final QUIT', () => {
  const m = msg(1, 'hi\n', { sender: '' })
  const text = writeBsmtp([m]).toString('latin1')
  assert.equal(
    text,
    'MAIL FROM:<>\r\n' +
      'RCPT TO:<a1@beta.test>\r\nRCPT TO:<b1@beta.test>\r\n' +
      'DATA\r\n' +
      `X-Outpost-Id: ${m.id}\r\n` +
      'Message-ID: <1@alpha.test>\r\nSubject: test 1\r\n\r\nhi\r\n' +
      '.\r\n' +
      'QUIT\r\n',
  )
  assert.equal(writeBsmtp([]).toString('latin1'), 'QUIT\r\n')
})

test('lines starting with a dot are stuffed, so a lone "." in a message cannot end it', () => {
  const m = msg(1, 'before\n.\nafter\n..twodots\n')
  const text = writeBsmtp([m]).toString('latin1')
  assert.ok(text.includes('\r\nbefore\r\n..\r\nafter\r\n...twodots\r\n.\r\nQUIT'), text)
  const [back] = parseBsmtp(Buffer.from(text, 'latin1'))
  assert.ok(back!.data.toString('latin1').endsWith('\r\nbefore\r\n.\r\nafter\r\n..twodots\r\n'))
})

test('bare LF line breaks are written as CRLF, and a message without a final line break gets one', () => {
  const m = msg(1, '', { data: Buffer.from('Subject: x\n\nline one\nline two') })
  const [back] = parseBsmtp(writeBsmtp([m]))
  assert.equal(back!.data.toString('latin1'), 'Subject: x\r\n\r\nline one\r\nline two\r\n')
})

test('SMTP smuggling: LF.LF, CRLF.LF and LF.CRLF do not end the data, so no second message appears', () => {
  const id = idOf('x')
  for (const fake of ['\n.\n', '\r\n.\n', '\n.\r\n', '\r.\r', '\r\n.\r']) {
    const batch = Buffer.from(
      'MAIL FROM:<alice@alpha.test>\r\nRCPT TO:<bob@beta.test>\r\nDATA\r\n' +
        `X-Outpost-Id: ${id}\r\nSubject: hi\r\n\r\nhello` +
        fake +
        'MAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@beta.test>\r\nDATA\r\nSubject: smuggled\r\n\r\npay now\r\n' +
        '.\r\nQUIT\r\n',
      'latin1',
    )
    const back = parseBsmtp(batch)
    assert.equal(back.length, 1, `the ${JSON.stringify(fake)} variant split the batch`)
    assert.deepEqual(back[0]!.recipients, ['bob@beta.test'])
    assert.ok(back[0]!.data.toString('latin1').includes('Subject: smuggled'), 'the smuggled text stays inside the first message')
  }
})

test('the writer turns a smuggling attempt inside message data into harmless stuffed text', () => {
  const evil = msg(1, 'hello\n.\nMAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@beta.test>\r\nDATA\r\n\r\n.\r\n')
  evil.data = Buffer.concat([evil.data, Buffer.from('tail\n.\n')])
  const back = parseBsmtp(writeBsmtp([evil, msg(2, 'next\n')]))
  assert.equal(back.length, 2)
  assert.deepEqual(back[1]!.recipients, ['a2@beta.test', 'b2@beta.test'])
  assert.ok(back[0]!.data.toString('latin1').includes('MAIL FROM:<ceo@bank.test>'))
})

test('malformed batches are refused with the line and what was expected there', () => {
  const good = writeBsmtp([msg(1, 'hi\n')]).toString('latin1')
  let e = rejects(Buffer.from(good.replace('QUIT\r\n', ''), 'latin1'), 'malformed', /expected "MAIL FROM:<sender>" or "QUIT"; the batch ends here/)
  assert.equal(e.line, 11)
  e = rejects(Buffer.from(good.replace('DATA\r\n', 'DATA\n'), 'latin1'), 'malformed', /bare CR or LF/)
  assert.equal(e.line, 4)
  rejects(Buffer.from(good.replace('.\r\nQUIT', 'QUIT'), 'latin1'), 'malformed', /never|ends first \(truncated\?\)/)
  rejects(Buffer.from('HELO me\r\n' + good, 'latin1'), 'malformed', /line 1: expected "MAIL FROM:<sender>" or "QUIT"; got "HELO me"/)
  rejects(Buffer.from(good.replace('MAIL FROM:<sender1@alpha.test>', 'MAIL FROM:<sender1@alpha.test> SIZE=10'), 'latin1'), 'malformed', /ESMTP parameters/)
  rejects(Buffer.from(good.replace(/RCPT TO:<[^>]+>\r\n/g, ''), 'latin1'), 'malformed', /line 2: expected "RCPT TO:<recipient>"; got "DATA"/)
  rejects(Buffer.from(good.replace(/X-Outpost-Id: [0-9a-f]+\r\n/, ''), 'latin1'), 'malformed', /X-Outpost-Id/)
  rejects(Buffer.from(good + 'junk', 'latin1'), 'malformed', /nothing after QUIT/)
})

test('limits on messages, recipients and message size are enforced', () => {
  const batch = writeBsmtp([msg(1, 'x'.repeat(2000) + '\n'), msg(2, 'y\n'), msg(3, 'z\n')])
  rejects(batch, 'too-large', /at most 2 messages/, { maxMessages: 2 })
  rejects(batch, 'too-large', /at most 1 recipients per message/, { maxRecipients: 1 })
  rejects(batch, 'too-large', /at most 1000 bytes/, { maxMessageBytes: 1000 })
  assert.equal(parseBsmtp(batch, { maxMessages: 3, maxRecipients: 2, maxMessageBytes: 3000 }).length, 3)
})

test('the writer refuses addresses and ids it could not write safely', () => {
  assert.throws(() => writeBsmtp([msg(1, 'x', { recipients: ['a>b@beta.test'] })]), /printable ASCII/)
  assert.throws(() => writeBsmtp([msg(1, 'x', { sender: 'a\r\nRCPT TO:<x@y>' })]), /printable ASCII/)
  assert.throws(() => writeBsmtp([msg(1, 'x', { recipients: [] })]), /no recipients/)
  assert.throws(() => writeBsmtp([msg(1, 'x', { id: 'not-an-id' })]), /64 lower-case hex/)
})
