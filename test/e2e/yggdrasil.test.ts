// Two boxes that share no LAN, only a Yggdrasil mesh (two real yggdrasil
// daemons in network namespaces of their own, peered with each other only:
// test/helpers/yggdrasil.ts). Each box listens on `::`, so its card names
// its LAN address and then its Yggdrasil address; the HTTP transport, with
// no URL set, finds the LAN address dead from the other box and goes over
// the mesh. A real Delta Chat client on each box, inside that box's
// namespace, completes SecureJoin and chats both ways, each message once.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startNode, OUTPOST_BIN, type TestNode } from '../helpers/node.js'
import { Phone, secureJoin, type JoinedChat } from '../helpers/deltachat.js'
import { canRunYggdrasil, makeYggMesh, type YggBox, type YggMesh } from '../helpers/yggdrasil.js'

const WAIT_MS = 120_000

/** Node's own card, made inside its namespace, where its Yggdrasil interface is. */
async function cardIn(box: YggBox, node: TestNode): Promise<string> {
  const r = await box.exec(process.execPath, [OUTPOST_BIN, 'card', '--text', '--data', node.data])
  assert.equal(r.code, 0, r.stderr)
  return r.stdout.trim()
}

async function messagesWith(phone: Phone, chatId: number, text: string): Promise<number> {
  const ids = await phone.rpc.getMessageIds(phone.accountId, chatId, false, false)
  const msgs = await phone.rpc.getMessages(phone.accountId, ids)
  return Object.values(msgs).filter((m) => (m as { text?: string }).text === text).length
}

const skip = await canRunYggdrasil()

describe('two boxes chat over a Yggdrasil mesh and nothing else', { skip, timeout: 15 * 60_000 }, () => {
  let mesh: YggMesh
  let camp: TestNode
  let hill: TestNode
  let alice: Phone
  let bob: Phone
  let chat: JoinedChat
  const phones: Phone[] = []

  before(async () => {
    mesh = await makeYggMesh()
    camp = await startNode({ domain: 'camp.test', name: 'camp', listen: '::', host: '127.0.0.1', netns: mesh.a.ns, start: false })
    hill = await startNode({ domain: 'hill.test', name: 'hill', listen: '::', host: '127.0.0.1', netns: mesh.b.ns, start: false })
  })

  after(async () => {
    await Promise.allSettled(phones.map((p) => p.close()))
    await camp?.destroy()
    await hill?.destroy()
    await mesh?.destroy()
  })

  it("each box's card names its Yggdrasil address after its LAN one", async () => {
    for (const [box, node, other] of [[mesh.a, camp, hill], [mesh.b, hill, camp]] as const) {
      const card = await cardIn(box, node)
      const show = await other.cli(['peer', 'add', card])
      assert.equal(show.code, 0, show.stderr)
      const peers = await other.cli(['peer', 'list'])
      assert.ok(peers.stdout.includes(`https://[${box.address}]:${node.ports.web}`), `the card of ${node.domain} carries https://[${box.address}]:${node.ports.web}:\n${peers.stdout}`)
    }
    for (const [node, peer] of [[camp, 'hill'], [hill, 'camp']] as const) {
      const t = await node.cli(['transport', 'add', peer, 'http'])
      assert.equal(t.code, 0, t.stderr)
    }
    await camp.restart()
    await hill.restart()
  })

  it('a phone on each box, in its namespace, is set up from its QR code', async () => {
    const a = await camp.addAccount('alice')
    const b = await hill.addAccount('bob')
    alice = await Phone.start('alice', { netns: mesh.a.ns })
    phones.push(alice)
    bob = await Phone.start('bob', { netns: mesh.b.ns })
    phones.push(bob)
    assert.equal(await alice.addAccountFromQr(await camp.dclogin(a.address)), a.address)
    assert.equal(await bob.addAccountFromQr(await hill.dclogin(b.address)), b.address)
  })

  it('SecureJoin completes across the mesh', async () => {
    chat = await secureJoin(alice, bob, WAIT_MS)
    const info = await bob.rpc.getBasicChatInfo(bob.accountId, chat.joinerChatId)
    assert.equal(info.isEncrypted, true)
  })

  it('messages cross both ways over Yggdrasil, encrypted, each once', async () => {
    const toBob = `Over the mesh to the hill (${Date.now()})`
    const toAlice = `And back to the camp (${Date.now()})`
    let since = bob.mark()
    const t0 = performance.now()
    await alice.sendText(chat.inviterChatId, toBob)
    const atBob = await bob.waitForIncoming((m) => m.text === toBob, WAIT_MS, since)
    const oneWay = performance.now() - t0
    assert.equal(atBob.message.showPadlock, true)
    since = alice.mark()
    await bob.sendText(chat.joinerChatId, toAlice)
    const atAlice = await alice.waitForIncoming((m) => m.text === toAlice, WAIT_MS, since)
    assert.equal(atAlice.message.showPadlock, true)
    assert.equal(await messagesWith(bob, chat.joinerChatId, toBob), 1)
    assert.equal(await messagesWith(alice, chat.inviterChatId, toAlice), 1)
    // The way it went: the LAN address on the card was tried and the mesh one answered.
    assert.match(camp.output(), new RegExp(`http → hill: cannot reach hill at https://127\\.0\\.0\\.1:${hill.ports.web}.*trying the card's address https://\\[${mesh.b.address}\\]`))
    process.stdout.write(`# alice → bob over Yggdrasil: ${Math.round(oneWay)} ms, send to incoming message\n`)
  })
})
