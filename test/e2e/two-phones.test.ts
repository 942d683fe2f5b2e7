// Acceptance test: two real Delta Chat clients on one Outpost node, each
// configured from nothing but its dclogin: QR, become verified contacts by
// SecureJoin and chat end-to-end encrypted both ways. The node's disk must
// only ever hold the ciphertext.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startNode, type TestNode } from '../helpers/node.js'
import { Phone, secureJoin, type JoinedChat } from '../helpers/deltachat.js'
import { waitFor } from '../helpers/wait.js'

const DOMAIN = 'camp.test'
const WAIT_MS = 60_000

describe('two phones chat through one node', { timeout: 10 * 60_000 }, () => {
  let node: TestNode | undefined
  const phones: Phone[] = []
  let alice: Phone
  let bob: Phone
  let aliceAddr: string
  let bobAddr: string
  let chat: JoinedChat

  before(async () => {
    node = await startNode({ domain: DOMAIN })
  })

  after(async () => {
    // Phones first: their cores would otherwise keep reconnecting to a node that is going away.
    await Promise.allSettled(phones.map((p) => p.close()))
    await node?.destroy()
  })

  it('configures each phone from its dclogin: URI alone', async () => {
    const n = node!
    const a = await n.addAccount('alice')
    const b = await n.addAccount('bob')
    const aliceUri = await n.dclogin(a.address)
    const bobUri = await n.dclogin(b.address)
    assert.match(aliceUri, /^dclogin:/)
    alice = await Phone.start('alice')
    phones.push(alice)
    bob = await Phone.start('bob')
    phones.push(bob)
    aliceAddr = await alice.addAccountFromQr(aliceUri)
    bobAddr = await bob.addAccountFromQr(bobUri)
    assert.equal(aliceAddr, a.address)
    assert.equal(bobAddr, b.address)
  })

  it('bob scans alice\'s invite QR and SecureJoin completes on both sides', async () => {
    chat = await secureJoin(alice, bob, WAIT_MS)
    assert.ok(chat.inviterChatId > 0 && chat.joinerChatId > 0)
    const seenByBob = await bob.rpc.getBasicChatInfo(bob.accountId, chat.joinerChatId)
    assert.equal(seenByBob.isEncrypted, true, 'bob\'s chat with alice should be end-to-end encrypted')
  })

  it('alice\'s message reaches bob encrypted, and the server only ever stored ciphertext', async () => {
    const text = `Meet at the north gate at ${new Date().toISOString()}`
    const maildir = join(node!.data, 'mail', DOMAIN, 'bob', 'Maildir')
    // With bob's IO stopped the message waits in his Maildir: once fetched, Delta Chat deletes encrypted mail from the server.
    await bob.stopIo()
    const before = new Set(await maildirFiles(maildir))

    const sent = alice.mark()
    const msgId = await alice.sendText(chat.inviterChatId, text)
    await alice.waitFor('MsgDelivered', (e) => e.msgId === msgId, WAIT_MS, sent)

    // Match on the sender: bob's core may have stored its own (encrypted) sync messages there too.
    const stored = await waitForNewFile(maildir, before, (content) => headerOf(content, 'from').includes(aliceAddr), WAIT_MS)
    assert.match(stored.content, /-----BEGIN PGP MESSAGE-----/, `${stored.path} should hold an OpenPGP message`)
    assert.ok(!stored.content.includes(text), `${stored.path} holds the plaintext`)
    assert.ok(!stored.content.includes('north gate'), `${stored.path} holds part of the plaintext`)

    const received = bob.mark()
    await bob.startIo()
    const got = await bob.waitForIncoming((m) => m.text === text, WAIT_MS, received)
    assert.equal(got.message.showPadlock, true, 'bob should see the message as end-to-end encrypted')
    assert.equal(got.message.sender.address, aliceAddr)
    assert.equal(got.message.chatId, chat.joinerChatId)
  })

  it('bob\'s answer reaches alice encrypted', async () => {
    const text = 'On my way, bringing the water filter.'
    const since = alice.mark()
    await bob.sendText(chat.joinerChatId, text)
    const got = await alice.waitForIncoming((m) => m.text === text, WAIT_MS, since)
    assert.equal(got.message.showPadlock, true, 'alice should see the answer as end-to-end encrypted')
    assert.equal(got.message.sender.address, bobAddr)
    assert.equal(got.message.chatId, chat.inviterChatId)
  })
})

async function maildirFiles(maildir: string): Promise<string[]> {
  const out: string[] = []
  for (const sub of ['new', 'cur']) {
    const names = await readdir(join(maildir, sub)).catch((err: NodeJS.ErrnoException) => {
      // The Maildir appears with the first delivery.
      if (err.code === 'ENOENT') return [] as string[]
      throw err
    })
    for (const name of names) out.push(join(maildir, sub, name))
  }
  return out
}

/** The node may answer 250 before LMTP delivery, so the file can show up a little after MsgDelivered. */
async function waitForNewFile(
  maildir: string,
  known: Set<string>,
  match: (content: string) => boolean,
  timeoutMs: number,
): Promise<{ path: string; content: string }> {
  return waitFor(`a new matching message in ${maildir}`, async () => {
    for (const path of await maildirFiles(maildir)) {
      if (known.has(path)) continue
      let content: string
      try {
        content = await readFile(path, 'utf8')
      } catch (err) {
        // Dovecot may move new/ → cur/ between readdir and read; look again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        continue
      }
      if (match(content)) return { path, content }
      known.add(path)
    }
    return undefined
  }, { timeoutMs, everyMs: 50 })
}

/** An unfolded header value from a raw message (name matched case-insensitively); '' when absent. */
function headerOf(raw: string, name: string): string {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? ''
  const m = new RegExp(`^${name}:(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(head)
  return m?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim() ?? ''
}
