// Haraka dies right after Dovecot stored a message and before the ledger
// marks it delivered (the crash point deliver.stored): the client got no
// 250 and sends the message again. The ledger's row is still 'pending', and
// the mailbox settles it: the message is stored once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { startNode } from '../../helpers/node.js'
import { messageIdCounts, smtpClient } from '../../helpers/mail.js'
import { waitFor } from '../../helpers/wait.js'

test('a crash between Dovecot storing and the ledger write: the retry is answered 250 and stores nothing again', { timeout: 180_000 }, async () => {
  const node = await startNode({ env: { OUTPOST_CRASH_AT: 'deliver.stored:1' } })
  try {
    const alice = await node.addAccount('alice')
    const bob = await node.addAccount('bob')
    const id = '<crash-after-store@camp.test>'
    const send = async () => {
      const client = smtpClient(node.ports.submission, alice)
      try {
        await client.sendMail({ from: alice.address, to: bob.address, subject: 'crash', text: 'stored, not answered\n', messageId: id })
      } finally {
        client.close()
      }
    }
    await assert.rejects(send(), 'Haraka died before it answered')
    assert.equal(messageIdCounts(node.data, bob.address).get(id), 1, 'Dovecot had stored it')
    const ledger = () => {
      const db = new Database(join(node.data, 'outpost.db'), { readonly: true })
      try {
        return db.prepare('SELECT state FROM deliveries').all()
      } finally {
        db.close()
      }
    }
    assert.deepEqual(ledger(), [{ state: 'pending' }], "the ledger never heard Dovecot's answer")

    // The supervisor starts a new Haraka (with the same crash point armed: it must not be reached again).
    await waitFor('Haraka to take the retry', async () => {
      try {
        await send()
        return true
      } catch {
        return false
      }
    })
    assert.equal(messageIdCounts(node.data, bob.address).get(id), 1, 'stored exactly once')
    assert.deepEqual(ledger(), [{ state: 'delivered' }])
  } finally {
    await node.destroy()
  }
})
