import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dataBlock, LmtpError, LMTP_SESSIONS, lmtpDeliver } from '../../../server/delivery/lmtp.js'
import { FakeLmtp } from '../../helpers/fake-lmtp.js'

function tmp(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-lmtp-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('each accepted recipient gets its own reply after the final dot', async (t) => {
  const lmtp = await new FakeLmtp(join(tmp(t), 'lmtp'), {
    dataReply: (r) => (r === 'bob@camp.test' ? '452 4.2.2 Mailbox is full' : '250 2.0.0 Saved'),
  }).listen()
  t.after(() => lmtp.close())
  const results = await lmtpDeliver(
    { socketPath: lmtp.path, lhloName: 'camp.test' },
    { sender: 'alice@camp.test', recipients: ['carol@camp.test', 'bob@camp.test'] },
    Buffer.from('Subject: hi\r\n\r\nhello\r\n'),
  )
  assert.deepEqual(results, [
    { recipient: 'carol@camp.test', code: 250, enhanced: '2.0.0', text: 'Saved', afterData: true },
    { recipient: 'bob@camp.test', code: 452, enhanced: '4.2.2', text: 'Mailbox is full', afterData: true },
  ])
  assert.deepEqual(lmtp.stored.map((s) => s.recipient), ['carol@camp.test'])
})

test('a recipient refused at RCPT gets that reply and no DATA is sent when nobody is left', async (t) => {
  const lmtp = await new FakeLmtp(join(tmp(t), 'lmtp'), { rcptReply: () => '550 5.1.1 User doesn\'t exist' }).listen()
  t.after(() => lmtp.close())
  const results = await lmtpDeliver({ socketPath: lmtp.path, lhloName: 'x' }, { sender: 'a@x', recipients: ['nobody@x'] }, Buffer.from('x\r\n'))
  assert.deepEqual(results, [{ recipient: 'nobody@x', code: 550, enhanced: '5.1.1', text: "User doesn't exist", afterData: false }])
  assert.equal(lmtp.received.length, 0)
})

test('dot-stuffing and CRLF: the server stores exactly the message, whatever its line endings', async (t) => {
  const lmtp = await new FakeLmtp(join(tmp(t), 'lmtp')).listen()
  t.after(() => lmtp.close())
  const message = 'Subject: dots\n\n.\n..two\n.leading\nbare cr\rend\r\nlast line without newline'
  await lmtpDeliver({ socketPath: lmtp.path, lhloName: 'x' }, { sender: 'a@x', recipients: ['b@x'] }, Buffer.from(message))
  const got = lmtp.received[0]!
  assert.equal(got.wire, 'Subject: dots\r\n\r\n..\r\n...two\r\n..leading\r\nbare cr\r\nend\r\nlast line without newline\r\n')
  assert.equal(got.data, 'Subject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nbare cr\r\nend\r\nlast line without newline\r\n')
})

test('dataBlock ends with the terminating dot line', () => {
  assert.equal(dataBlock(Buffer.from('a\r\n')).toString(), 'a\r\n.\r\n')
  assert.equal(dataBlock(Buffer.alloc(0)).toString(), '.\r\n')
})

test('a missing socket is an LmtpError that names it', async (t) => {
  const path = join(tmp(t), 'nothing-here')
  await assert.rejects(lmtpDeliver({ socketPath: path, lhloName: 'x' }, { sender: 'a@x', recipients: ['b@x'] }, Buffer.from('x')), (err: Error) => {
    assert.ok(err instanceof LmtpError)
    assert.match(err.message, /nothing-here/)
    assert.match(err.message, /Dovecot/)
    return true
  })
})

test('a server that stops answering times out with an LmtpError', async (t) => {
  const path = join(tmp(t), 'mute')
  const server = createServer((s) => s.write('220 hello\r\n'))
  await new Promise<void>((r) => server.listen(path, r))
  t.after(() => void server.close())
  const started = Date.now()
  await assert.rejects(
    lmtpDeliver({ socketPath: path, lhloName: 'x', timeoutMs: 200 }, { sender: 'a@x', recipients: ['b@x'] }, Buffer.from('x')),
    /did not answer LHLO within 0.2 s/,
  )
  assert.ok(Date.now() - started < 2000)
})

test('a server that hangs up mid-session is an LmtpError', async (t) => {
  const path = join(tmp(t), 'rude')
  const server = createServer((s) => {
    s.write('220 hello\r\n')
    s.on('data', () => s.destroy())
  })
  await new Promise<void>((r) => server.listen(path, r))
  t.after(() => void server.close())
  await assert.rejects(lmtpDeliver({ socketPath: path, lhloName: 'x' }, { sender: 'a@x', recipients: ['b@x'] }, Buffer.from('x')), /closed the connection/)
})

test('at most LMTP_SESSIONS sessions run at once per socket; the rest wait their turn and are delivered', async (t) => {
  const path = join(tmp(t), 'lmtp')
  let open = 0
  let most = 0
  const server = createServer((s) => {
    open++
    most = Math.max(most, open)
    s.on('close', () => open--)
    s.on('error', () => undefined)
    s.setEncoding('latin1')
    let inData = false
    let buf = ''
    s.write('220 slow LMTP\r\n')
    s.on('data', (d: string) => {
      buf += d
      let i: number
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 2)
        if (inData) {
          // Dovecot takes its time to store; sessions pile up meanwhile.
          if (line === '.') {
            inData = false
            setTimeout(() => s.write('250 2.0.0 Saved\r\n'), 30)
          }
        } else if (line === 'DATA') {
          inData = true
          s.write('354 go\r\n')
        } else if (line === 'QUIT') s.end('221 bye\r\n')
        else s.write('250 ok\r\n')
      }
    })
  })
  await new Promise<void>((r) => server.listen(path, r))
  t.after(() => new Promise<void>((r) => server.close(() => r())))
  const all = await Promise.all(
    Array.from({ length: 3 * LMTP_SESSIONS }, (_, i) => lmtpDeliver({ socketPath: path, lhloName: 'x' }, { sender: 'a@x', recipients: [`r${i}@x`] }, Buffer.from('x\r\n'))),
  )
  assert.deepEqual(all.map((r) => r[0]!.code), Array(3 * LMTP_SESSIONS).fill(250), 'every message delivered')
  assert.ok(most <= LMTP_SESSIONS, `${most} sessions were open at once`)
  assert.ok(most > 1, 'sessions do run side by side')
})

test('the next message goes over the session the last one left open; one the server closed meanwhile is replaced without a failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-lmtp-'))
  const lmtp = await new FakeLmtp(join(dir, 'lmtp')).listen()
  t.after(async () => {
    await lmtp.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const target = { socketPath: lmtp.path, lhloName: 'camp.test' }
  const send = (n: number) => lmtpDeliver(target, { sender: 'alice@camp.test', recipients: ['bob@camp.test'] }, Buffer.from(`Subject: ${n}\r\n\r\nhello\r\n`))

  assert.equal((await send(1))[0]!.code, 250)
  assert.equal((await send(2))[0]!.code, 250)
  assert.equal(lmtp.sessions, 1, 'one connection for both')

  await lmtp.hangUpAll()
  assert.equal((await send(3))[0]!.code, 250, 'the closed idle session is not the client\'s problem')
  assert.equal(lmtp.sessions, 2)
  assert.deepEqual(lmtp.stored.map((s) => s.data.split('\r\n')[0]), ['Subject: 1', 'Subject: 2', 'Subject: 3'])
})
