// What a message is, as the node that takes it over SMTP sees it: two
// different messages are two messages even when their sender, text and
// Message-ID (or the lack of one) are the same, a client's retry of one
// message is still stored once, and a header the node cannot parse is
// refused at submission instead of stored as it came.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { startNode, type TestNode } from '../../helpers/node.js'
import { maildirFiles, smtpClient, type SmtpAccount } from '../../helpers/mail.js'

let node: TestNode
let alice: SmtpAccount
let bob: SmtpAccount

before(async () => {
  node = await startNode()
  alice = await node.addAccount('alice')
  bob = await node.addAccount('bob')
})

after(async () => {
  await node?.destroy()
})

/** Sends `raw` as it is (nodemailer adds nothing to a raw message); resolves to the SMTP reply. */
async function sendRaw(from: SmtpAccount, to: string, raw: string): Promise<{ code: number; text: string }> {
  const client = smtpClient(node.ports.submission, from)
  try {
    const info = await client.sendMail({ envelope: { from: from.address, to: [to] }, raw: raw.replace(/\r?\n/g, '\r\n') })
    return { code: Number(info.response.slice(0, 3)), text: info.response }
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string }
    if (!e.responseCode) throw err
    return { code: e.responseCode, text: e.response ?? e.message }
  } finally {
    client.close()
  }
}

const stored = (who: SmtpAccount) => maildirFiles(node.data, who.address).map((f) => readFileSync(f, 'latin1'))

test('two scripted messages without a Message-ID, same sender and text, are both stored; a client retry is stored once', async () => {
  // What a cron job or a shell script sends: no Message-ID, no Date.
  const scripted = (subject: string) => `From: ${alice.address}\nTo: ${bob.address}\nSubject: ${subject}\n\nthe backup finished\n`
  const first = await sendRaw(alice, bob.address, scripted('backup monday'))
  const second = await sendRaw(alice, bob.address, scripted('backup tuesday'))
  // Byte for byte the same as the first: sent twice on purpose, by a script run twice.
  const third = await sendRaw(alice, bob.address, scripted('backup monday'))
  for (const r of [first, second, third]) assert.equal(r.code, 250, r.text)

  const withText = stored(bob).filter((m) => m.includes('the backup finished'))
  assert.equal(withText.length, 3, 'every message that got 250 is in the mailbox')
  assert.equal(withText.filter((m) => /^Subject: backup tuesday/m.test(m)).length, 1)
  const ids = withText.map((m) => /^Message-ID: *(<[^>\r\n]+>)/im.exec(m)?.[1])
  assert.ok(ids.every(Boolean), 'the node gave each message a Message-ID')
  assert.equal(new Set(ids).size, 3, 'and a different one to each')

  // A program that reuses one Message-ID for different messages: both are stored.
  const reused = (subject: string) => `From: ${alice.address}\nTo: ${bob.address}\nSubject: ${subject}\nMessage-ID: <fixed@camp.test>\n\nthe backup finished\n`
  assert.equal((await sendRaw(alice, bob.address, reused('reused one'))).code, 250)
  assert.equal((await sendRaw(alice, bob.address, reused('reused two'))).code, 250)
  assert.equal(stored(bob).filter((m) => m.includes('<fixed@camp.test>')).length, 2)

  // A client that lost the 250 sends the very same message again.
  const retried = `From: ${alice.address}\nTo: ${bob.address}\nSubject: hello\nDate: Mon, 07 Dec 2026 05:00:00 +0000\nMessage-ID: <retry-1@camp.test>\n\nsee you at the fire\n`
  assert.equal((await sendRaw(alice, bob.address, retried)).code, 250)
  assert.equal((await sendRaw(alice, bob.address, retried)).code, 250)
  assert.equal(stored(bob).filter((m) => m.includes('<retry-1@camp.test>')).length, 1, 'a retry is not stored twice')
})

test('a header line that does not parse is refused at submission, with the line named', async () => {
  const cases = [
    { raw: `From: ${alice.address}\nFrom : mallory@evil.test\nTo: ${bob.address}\nSubject: two authors\n\nsmuggled-author\n`, line: 2, shown: 'From : mallory@evil.test' },
    { raw: ` folded: before any field\nFrom: ${alice.address}\nTo: ${bob.address}\nSubject: leading fold\n\nsmuggled-fold\n`, line: 1, shown: ' folded: before any field' },
  ]
  for (const c of cases) {
    const r = await sendRaw(alice, bob.address, c.raw)
    assert.equal(r.code, 550, r.text)
    assert.match(r.text, new RegExp(`5\\.6\\.0 Header line ${c.line} .*${c.shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
  }
  // A later message goes through and is stored: by then the refused ones would have been too.
  const ok = await sendRaw(alice, bob.address, `From: ${alice.address}\nTo: ${bob.address}\nSubject: marker\nX-Long:\n  folded value\n\nafter-the-refusals\n`)
  assert.equal(ok.code, 250, ok.text)
  const box = stored(bob)
  assert.equal(box.filter((m) => m.includes('after-the-refusals')).length, 1)
  assert.equal(box.filter((m) => m.includes('smuggled-')).length, 0, 'no refused message was stored')
})
