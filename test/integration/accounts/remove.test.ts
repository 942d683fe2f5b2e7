// Removing an account archives its mail: the next account of the same name
// (a new member, say) logs in to an empty mailbox, against the real Dovecot
// of a running node. An IMAP session the old account still had open is
// ended, so it cannot write into the new one's mailbox either.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { startNode } from '../../helpers/node.js'
import { smtpClient, maildirFiles } from '../../helpers/mail.js'
import { waitFor } from '../../helpers/wait.js'

function imap(port: number, who: { address: string; password: string }): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: true, auth: { user: who.address, pass: who.password }, tls: { rejectUnauthorized: false }, logger: false })
}

async function inboxSubjects(port: number, who: { address: string; password: string }): Promise<string[]> {
  const c = imap(port, who)
  await c.connect()
  try {
    const box = await c.mailboxOpen('INBOX')
    const out: string[] = []
    if (box.exists > 0) for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '')
    return out
  } finally {
    await c.logout()
  }
}

test('account remove archives the mail out of the mail dir; a re-created account of the same name sees none of it', async () => {
  const node = await startNode({ domain: 'camp.test' })
  try {
    const alice = await node.addAccount('alice')
    const bob = await node.addAccount('bob')
    const smtp = smtpClient(node.ports.submission, bob)
    await smtp.sendMail({ from: bob.address, to: alice.address, subject: 'for the first alice only', text: 'private' })
    smtp.close()
    await waitFor("the message in alice's Maildir", () => maildirFiles(node.data, alice.address).length > 0, 10_000)
    assert.deepEqual(await inboxSubjects(node.ports.imap, alice), ['for the first alice only'])

    // The first alice's phone is still logged in when she is removed.
    const stale = imap(node.ports.imap, alice)
    await stale.connect()
    await stale.mailboxOpen('INBOX')
    const staleClosed = new Promise<void>((resolve) => stale.once('close', () => resolve()))

    const r = await node.cli(['account', 'remove', alice.address])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '', 'no warnings')
    const archived = /archived to (\S+) \(/.exec(r.stdout)?.[1]
    assert.ok(archived, r.stdout)
    assert.match(archived!, new RegExp(`^${join(node.data, 'archive')}/alice@camp\\.test-\\d{8}T\\d{6}Z$`))
    assert.match(r.stdout, /a new alice@camp\.test starts with an empty mailbox/)
    assert.equal(statSync(join(node.data, 'archive')).mode & 0o777, 0o700)
    assert.equal(readdirSync(join(archived!, 'Maildir', 'new')).length + readdirSync(join(archived!, 'Maildir', 'cur')).length, 1, 'the old mail is in the archive, not lost')
    assert.equal(existsSync(join(node.data, 'mail', 'camp.test', 'alice')), false)
    await staleClosed

    const again = await node.addAccount('alice')
    assert.deepEqual(await inboxSubjects(node.ports.imap, again), [], 'the new alice starts empty')
    assert.equal(maildirFiles(node.data, again.address).length, 0)

    // Removing an account that never had mail says so.
    const r2 = await node.cli(['account', 'remove', bob.address])
    assert.equal(r2.code, 0, r2.stderr)
    assert.match(r2.stdout, /had no mail on disk/)
  } finally {
    await node.destroy()
  }
})
