// The coffee-shop story, end to end, on loopback with real parts:
//
//   friend@elsewhere.test — a real Delta Chat client on an ordinary provider
//     (Debian's Postfix as MX and submission, in front of a Dovecot);
//   town.example — the gateway, an Outpost node "on a VPS": it takes the
//     group's mail from the Internet (Postfix's relayhost stands in for the
//     MX record) and sends it out by its static MX table, DKIM-signed;
//   camp.test — the off-grid node with alice's Delta Chat client. Its only
//     peer is the gateway, its default route `*` goes there, and its uplink
//     is the HTTP transport (with pickup) through a switch the test flips.
//
// The SecureJoin handshake crosses the same way while the uplink is up
// (Delta Chat will not write unencrypted). Then the uplink goes down; alice
// writes to friend and friend writes to alice (that mail waits at the
// gateway); the uplink comes up for one run and goes down again. Both
// messages must have crossed, each exactly once, end-to-end encrypted, and
// DKIM must verify at the friend's side.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startNode, type TestNode } from '../../helpers/node.js'
import { befriend } from '../../helpers/stick.js'
import { freePort } from '../../helpers/ports.js'
import { Phone, secureJoin, type JoinedChat } from '../../helpers/deltachat.js'
import { canRunProvider, dkimRecords, dkimVerify, startProvider, type Provider } from '../../helpers/provider.js'
import { UplinkSwitch } from '../../helpers/uplink-proxy.js'
import { waitFor } from '../../helpers/wait.js'

const WAIT_MS = 120_000


/** How many messages with this text the phone shows in the chat. */
async function copies(phone: Phone, chatId: number, text: string): Promise<number> {
  const ids = await phone.rpc.getMessageIds(phone.accountId, chatId, false, false)
  const msgs = await phone.rpc.getMessages(phone.accountId, ids)
  return Object.values(msgs).filter((m) => (m as { kind?: string; text?: string }).text === text).length
}

const skip = canRunProvider()

describe('one trip to the coffee shop sends everything out and brings everything in', { skip, timeout: 20 * 60_000 }, () => {
  let provider: Provider
  let town: TestNode
  let camp: TestNode
  let uplink: UplinkSwitch
  let alice: Phone
  let friend: Phone
  let chat: JoinedChat
  let records: Record<string, string> = {}
  const phones: Phone[] = []

  before(async () => {
    const inbound = await freePort()
    const mx = await freePort()
    provider = await startProvider({ domain: 'elsewhere.test', relay: { host: '127.0.0.1', port: inbound }, smtpPort: mx })
    const f = await provider.addAccount('friend')
    town = await startNode({
      domain: 'town.example',
      name: 'town',
      start: false,
      env: { OUTPOST_GATEWAY_ENABLED: 'true', OUTPOST_GATEWAY_INBOUND_PORT: String(inbound), OUTPOST_GATEWAY_STATIC_MX: `elsewhere.test=127.0.0.1:${mx}` },
    })
    camp = await startNode({ domain: 'camp.test', name: 'camp' })
    await befriend(camp, town)
    const dkim = await town.cli(['dkim', 'camp.test'])
    assert.equal(dkim.code, 0, dkim.stderr)
    records = dkimRecords(dkim.stdout)
    await town.restart()

    uplink = new UplinkSwitch(await freePort(), { host: '127.0.0.1', port: town.ports.web })
    await uplink.up()
    for (const args of [
      ['route', 'add', '*', 'town'],
      // Every two seconds while the link is there; the uplink probe starts a run at once when it appears.
      ['transport', 'add', 'town', 'http', '--schedule', '*/2 * * * * *', '--set', `url=https://127.0.0.1:${uplink.port}`, '--set', 'pickup=yes'],
      ['uplink', 'set', '--kind', 'gateway', '--peer', 'town', '--probe-seconds', '1'],
    ]) {
      const r = await camp.cli(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    }
    const a = await camp.addAccount('alice')
    alice = await Phone.start('alice')
    phones.push(alice)
    friend = await Phone.start('friend')
    phones.push(friend)
    await alice.addAccountFromQr(await camp.dclogin(a.address))
    await friend.addAccountFromQr(await provider.dclogin(f.address))
  })

  after(async () => {
    await Promise.allSettled(phones.map((p) => p.close()))
    await uplink?.down()
    await camp?.destroy()
    await town?.destroy()
    await provider?.stop()
  })

  it('alice and friend SecureJoin across the gateway while the uplink is up', async () => {
    await waitFor('camp to see the uplink online', async () => /uplink: gateway town — online/.test((await camp.cli(['status'])).stdout), 30_000)
    chat = await secureJoin(friend, alice, WAIT_MS)
    const info = await alice.rpc.getBasicChatInfo(alice.accountId, chat.joinerChatId)
    assert.equal(info.isEncrypted, true)
  })

  it('the uplink goes down and the off-grid node notices', async () => {
    await uplink.down()
    const s = await waitFor('camp to see the uplink offline', async () => {
      const r = await camp.cli(['status'])
      return /uplink: gateway town — offline, last online \d{4}-/.test(r.stdout) ? r.stdout : undefined
    }, 30_000)
    assert.match(s, /last online .* ago/)
    // From now on the transport's own schedule is hourly: in the story only
    // the uplink probe can start a run when the link appears.
    const list = await camp.cli(['transport', 'list'])
    const id = /^(\d+)\ttown\thttp/m.exec(list.stdout)![1]!
    assert.equal((await camp.cli(['transport', 'remove', id])).code, 0)
    const add = await camp.cli(['transport', 'add', 'town', 'http', '--schedule', '0 * * * *', '--set', `url=https://127.0.0.1:${uplink.port}`, '--set', 'pickup=yes'])
    assert.equal(add.code, 0, add.stderr)
    // Between the remove and the add, camp's probe has only the card's
    // address (town itself, on loopback) and may find it online; the new
    // transport's address answering later is a coming-up of its own.
    // The running node keeps the old every-two-seconds task until its next
    // reload, but transport ids are never reused: a tick of the removed one
    // finds no transport and runs nothing, so there is nothing to wait for.
    assert.notEqual(/added transport (\d+)/.exec(add.stdout)?.[1], id, 'the new transport has an id of its own')
  })

  let toFriend = ''
  let toAlice = ''

  it('alice writes to friend: it waits at the camp', async () => {
    toFriend = `Hi from the camp, no Internet here (${Date.now()})`
    await alice.sendText(chat.joinerChatId, toFriend)
    await waitFor("alice's message in camp's outbox for town", async () => /^town: 1 messages/m.test((await camp.cli(['queue'])).stdout))
  })

  it('friend writes to alice: it waits at the gateway', async () => {
    toAlice = `Hi alice, write when you are in town (${Date.now()})`
    await friend.sendText(chat.inviterChatId, toAlice)
    await waitFor("friend's message in the gateway's outbox for camp", async () => /^camp: 1 messages/m.test((await town.cli(['queue'])).stdout))
  })

  it('the uplink comes up for a few seconds: both messages cross, each once, and DKIM verifies at the friend', async () => {
    const aliceSince = alice.mark()
    const friendSince = friend.mark()
    const runsBefore = camp.output().split('running its transports now').length
    const logBefore = camp.output().length
    await uplink.up()
    // The story's few seconds of uplink: as long as the one run the probe
    // starts takes (send, pick up, confirm, ack), however fast the machine.
    await waitFor("the probe's run to send and pick up", async () => /transport \d+ \(http → town\): sent [1-9]\d* messages.*; picked up [1-9]\d* bundles/.test(camp.output().slice(logBefore)), {
      timeoutMs: WAIT_MS,
      explain: async () => `camp's status:\n${(await camp.cli(['status'])).stdout}\ncamp's log, last 6000 characters:\n${camp.output().slice(-6000)}\ntown's log, last 4000 characters:\n${town.output().slice(-4000)}`,
    })
    await uplink.down()
    const atAlice = await alice.waitForIncoming((m) => m.text === toAlice, WAIT_MS, aliceSince)
    const atFriend = await friend.waitForIncoming((m) => m.text === toFriend, WAIT_MS, friendSince)
    assert.equal(atAlice.message.showPadlock, true)
    assert.equal(atFriend.message.showPadlock, true)
    assert.equal(atFriend.message.sender.address, 'alice@camp.test')
    // A second copy, if one were on its way, would come before two later
    // messages that take the same ways on the next trip: wait for those.
    await waitFor('camp to see the uplink offline again', async () => /uplink: gateway town — offline/.test((await camp.cli(['status'])).stdout), 30_000)
    const laterToFriend = `Later from the camp (${Date.now()})`
    const laterToAlice = `Later to the camp (${Date.now()})`
    const laterAliceSince = alice.mark()
    const laterFriendSince = friend.mark()
    await alice.sendText(chat.joinerChatId, laterToFriend)
    await friend.sendText(chat.inviterChatId, laterToAlice)
    await waitFor("the later message in camp's outbox for town", async () => /^town: [1-9]\d* messages/m.test((await camp.cli(['queue'])).stdout))
    await waitFor("the later message in the gateway's outbox for camp", async () => /^camp: [1-9]\d* messages/m.test((await town.cli(['queue'])).stdout))
    await uplink.up()
    try {
      await alice.waitForIncoming((m) => m.text === laterToAlice, WAIT_MS, laterAliceSince)
      await friend.waitForIncoming((m) => m.text === laterToFriend, WAIT_MS, laterFriendSince)
    } finally {
      await uplink.down()
    }
    assert.equal(await copies(alice, chat.joinerChatId, toAlice), 1, 'alice has the message once')
    assert.equal(await copies(friend, chat.inviterChatId, toFriend), 1, 'friend has the message once')

    // The provider's archive copy of alice's message: signed for camp.test by the gateway.
    const fromAlice = provider.archived().filter((m) => /^From:.*alice@camp\.test/im.test(m.toString('latin1').split(/\r?\n\r?\n/)[0] ?? ''))
    assert.ok(fromAlice.length >= 1, 'the provider stored mail from alice')
    for (const m of fromAlice) {
      const v = await dkimVerify(m, records)
      assert.ok(v.ok, `DKIM did not verify at the friend's provider: ${v.detail}`)
    }
    assert.ok(camp.output().split('running its transports now').length > runsBefore, 'the uplink probe started the run')
    await waitFor('camp to see the uplink offline after the trips', async () => /uplink: gateway town — offline, last online/.test((await camp.cli(['status'])).stdout), 30_000)
    assert.match(await camp.cli(['queue']).then((r) => r.stdout), /the outbox is empty/, "camp's outbox is empty: the gateway acked alice's message")
  })
})
