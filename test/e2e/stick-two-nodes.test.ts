// Acceptance test for the bundle exchange: alice on node camp and bob on
// node town have real Delta Chat clients and no network between the nodes.
// A folder carried back and forth (the USB stick) takes the SecureJoin
// handshake and then their encrypted messages each way.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type TestNode } from '../helpers/node.js'
import { Phone, secureJoin, type JoinedChat } from '../helpers/deltachat.js'
import { befriend, shuttleUntil } from '../helpers/stick.js'

const WAIT_MS = 240_000

describe('alice at camp and bob in town chat over a USB stick', { timeout: 15 * 60_000 }, () => {
  let camp: TestNode
  let town: TestNode
  let alice: Phone
  let bob: Phone
  let chat: JoinedChat
  const phones: Phone[] = []
  const stick = mkdtempSync(join(tmpdir(), 'op-stick-'))

  before(async () => {
    camp = await startNode({ domain: 'camp.test' })
    town = await startNode({ domain: 'town.test' })
    await befriend(camp, town)
    const a = await camp.addAccount('alice')
    const b = await town.addAccount('bob')
    alice = await Phone.start('alice')
    phones.push(alice)
    bob = await Phone.start('bob')
    phones.push(bob)
    await alice.addAccountFromQr(await camp.dclogin(a.address))
    await bob.addAccountFromQr(await town.dclogin(b.address))
  })

  after(async () => {
    await Promise.allSettled(phones.map((p) => p.close()))
    await camp?.destroy()
    await town?.destroy()
    rmSync(stick, { recursive: true, force: true })
  })

  it('SecureJoin completes with the stick going back and forth', async () => {
    // alice scans bob's invite QR; the handshake's messages cross on the stick.
    chat = await shuttleUntil(stick, camp, town, secureJoin(bob, alice, WAIT_MS))
    const info = await alice.rpc.getBasicChatInfo(alice.accountId, chat.joinerChatId)
    assert.equal(info.isEncrypted, true)
  })

  it('alice writes, the stick carries it, bob reads it end-to-end encrypted', async () => {
    const text = `Water at the camp is fine (${Date.now()})`
    const since = bob.mark()
    await alice.sendText(chat.joinerChatId, text)
    const got = await shuttleUntil(stick, camp, town, bob.waitForIncoming((m) => m.text === text, WAIT_MS, since))
    assert.equal(got.message.showPadlock, true)
    assert.equal(got.message.sender.address, 'alice@camp.test')
  })

  it('bob answers and the answer travels back the same way', async () => {
    const text = 'Good. The road to town is open again.'
    const since = alice.mark()
    await bob.sendText(chat.inviterChatId, text)
    const got = await shuttleUntil(stick, camp, town, alice.waitForIncoming((m) => m.text === text, WAIT_MS, since))
    assert.equal(got.message.showPadlock, true)
    assert.equal(got.message.sender.address, 'bob@town.test')
  })

  it('once the acks are home, both outboxes are empty', async () => {
    const { carry } = await import('../helpers/stick.js')
    await carry(stick, camp, town)
    await carry(stick, town, camp)
    await carry(stick, camp, town)
    for (const n of [camp, town]) {
      const q = await n.cli(['queue'])
      assert.match(q.stdout, /the outbox is empty/, `${n.domain}: ${q.stdout}`)
    }
  })
})
