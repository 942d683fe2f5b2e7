// Delta Chat over the radio: alice on node camp and bob on node town have
// real Delta Chat clients, and the nodes are joined only by simulated LoRa
// radios (two ptys, real airtime at SF7/125 kHz, 10% frame loss). Both
// nodes run their lora transport at once, session after session, as their
// schedules would; SecureJoin's handshake and then the encrypted messages
// cross, each arriving once, and the acks come home. A photo sent with a
// text is held on the radio and arrives when a folder transport (a stick)
// runs, once.
//
// The duty cycle is 10% here: 869.525 MHz, the transport's default channel,
// lies in EU868's 869.4–869.65 MHz sub-band, which allows it. SecureJoin's
// handshake alone is several bundles with keys, more than the 36 s an hour
// that 1% would give at SF7.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, OUTPOST_BIN, type CliResult, type TestNode } from '../helpers/node.js'
import { Phone, secureJoin, type JoinedChat } from '../helpers/deltachat.js'
import { befriend } from '../helpers/stick.js'
import { ptyRadioPair } from '../helpers/radio-sim.js'
import { waitFor } from '../helpers/wait.js'

const WAIT_MS = 600_000

function transportRun(node: TestNode, id = '1'): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OUTPOST_BIN, 'transport', 'run', id, '--data', node.data], { encoding: 'utf8', timeout: 600_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

describe('alice at camp and bob in town chat over LoRa radios', { timeout: 30 * 60_000 }, () => {
  let camp: TestNode
  let town: TestNode
  let alice: Phone
  let bob: Phone
  let chat: JoinedChat
  let radio: Awaited<ReturnType<typeof ptyRadioPair>>
  const phones: Phone[] = []
  const runs: string[] = []
  const scratch = mkdtempSync(join(tmpdir(), 'op-lora-phones-'))

  /** One radio session: both nodes run their transport at once. */
  async function session(): Promise<void> {
    const [c, t] = await Promise.all([transportRun(camp), transportRun(town)])
    assert.equal(c.code, 0, `camp: ${c.stderr}${c.stdout}`)
    assert.equal(t.code, 0, `town: ${t.stderr}${t.stdout}`)
    runs.push(`camp: ${c.stdout.trim()}`, `town: ${t.stdout.trim()}`)
  }

  /** Radio sessions, one after another, until `done` settles. */
  async function onAirUntil<T>(done: Promise<T>, sessions = 30): Promise<T> {
    let settled = false
    const watched = done.finally(() => {
      settled = true
    })
    for (let i = 0; i < sessions && !settled; i++) {
      await session()
      // The phones fetch what arrived and answer it before the next session.
      await Promise.race([watched.catch(() => undefined), new Promise((r) => setTimeout(r, 1500))])
    }
    return watched
  }

  before(async () => {
    radio = await ptyRadioPair({ modulation: { sf: 7, bw: 125000, cr: 5, preamble: 8 }, payload: 222, loss: 0.1, corrupt: 0.01, seed: 433 })
    camp = await startNode({ domain: 'camp.test' })
    town = await startNode({ domain: 'town.test' })
    await befriend(camp, town)
    const settings = ['--set', 'sf=7', '--set', 'duty=10', '--set', 'listen_seconds=4', '--schedule', '0 0 1 1 *']
    for (const [node, peer, tty] of [[camp, 'town', radio.ttys[0]], [town, 'camp', radio.ttys[1]]] as const) {
      const r = await node.cli(['transport', 'add', peer, 'lora', '--set', `port=${tty}`, ...settings])
      assert.equal(r.code, 0, r.stderr)
    }
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
    await radio?.stop()
    rmSync(scratch, { recursive: true, force: true })
    console.log(`# radio: ${JSON.stringify(radio?.channel.stats)}`)
    for (const line of runs.filter((l) => !/sent 0 bundles .* received 0 /.test(l))) console.log(`# ${line}`)
  })

  it('SecureJoin completes over the radio', async () => {
    const started = Date.now()
    chat = await onAirUntil(secureJoin(bob, alice, WAIT_MS))
    const info = await alice.rpc.getBasicChatInfo(alice.accountId, chat.joinerChatId)
    assert.equal(info.isEncrypted, true)
    console.log(`# SecureJoin over SF7 radio: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })

  it('alice writes, bob reads it end-to-end encrypted, once', async () => {
    const text = `Water at the camp is fine (${Date.now()})`
    const since = bob.mark()
    const started = Date.now()
    await alice.sendText(chat.joinerChatId, text)
    const got = await onAirUntil(bob.waitForIncoming((m) => m.text === text, WAIT_MS, since))
    assert.equal(got.message.showPadlock, true)
    assert.equal(got.message.sender.address, 'alice@camp.test')
    console.log(`# a short message over SF7 radio: ${((Date.now() - started) / 1000).toFixed(1)} s`)
    // One more session carries nothing new: the message shows once.
    await session()
    const again = bob.events.slice(since).filter((e) => e.event.kind === 'IncomingMsg')
    const texts = await Promise.all(again.map(async (e) => (await bob.rpc.getMessage(bob.accountId, (e.event as { msgId: number }).msgId)).text))
    assert.equal(texts.filter((t) => t === text).length, 1)
  })

  it('bob answers over the radio, and the acks come home', async () => {
    const text = 'Good. The road to town is open again.'
    const since = alice.mark()
    await bob.sendText(chat.inviterChatId, text)
    const got = await onAirUntil(alice.waitForIncoming((m) => m.text === text, WAIT_MS, since))
    assert.equal(got.message.showPadlock, true)
    assert.equal(got.message.sender.address, 'bob@town.test')
    for (let i = 0; i < 3; i++) {
      const empty = await Promise.all([camp, town].map(async (n) => /the outbox is empty/.test((await n.cli(['queue'])).stdout)))
      if (empty.every(Boolean)) break
      await session()
    }
    for (const n of [camp, town]) assert.match((await n.cli(['queue'])).stdout, /the outbox is empty/, n.domain)
  })

  it('a photo sent with a text is held on the radio; the text crosses by radio, the photo by a stick, each once', async () => {
    const stick = join(scratch, 'stick')
    const photo = join(scratch, 'ridge.jpg')
    mkdirSync(stick)
    writeFileSync(photo, randomBytes(120 * 1024))
    for (const [node, peer] of [[camp, 'town'], [town, 'camp']] as const) {
      const r = await node.cli(['transport', 'add', peer, 'folder', '--set', `path=${stick}`, '--schedule', '0 0 1 1 *'])
      assert.equal(r.code, 0, r.stderr)
    }
    const text = `The view from the ridge, photo follows (${Date.now()})`
    const since = bob.mark()
    await Promise.all([alice.sendFile(chat.joinerChatId, photo, 'the ridge'), alice.sendText(chat.joinerChatId, text)])
    // Both wait at camp; the photo is held for the stick (transport #2).
    await waitFor('both messages in the outbox', async () => /town: 2 messages/.test((await camp.cli(['queue'])).stdout), { timeoutMs: 60_000 })
    assert.match((await camp.cli(['queue'])).stdout, /held for a wider carrier \(folder #2\)/)
    const got = await onAirUntil(bob.waitForIncoming((m) => m.text === text, WAIT_MS, since))
    assert.equal(got.message.showPadlock, true)
    const bobSeen = async () => Promise.all(bob.events.slice(since).filter((e) => e.event.kind === 'IncomingMsg').map(async (e) => await bob.rpc.getMessage(bob.accountId, (e.event as { msgId: number }).msgId)))
    assert.equal((await bobSeen()).filter((m) => m.fileName === 'ridge.jpg').length, 0, 'the photo did not go by radio')
    // The stick: camp writes, town reads (and writes its ack at its next run), camp reads the ack.
    for (const [node, id] of [[camp, '2'], [town, '2']] as const) {
      const r = await transportRun(node, id)
      assert.equal(r.code, 0, r.stderr + r.stdout)
    }
    const file = await bob.waitForIncoming((m) => m.fileName === 'ridge.jpg', 60_000, since)
    assert.equal(file.message.showPadlock, true)
    assert.equal(file.message.fileBytes, 120 * 1024)
    for (const [node, id] of [[town, '2'], [camp, '2']] as const) assert.equal((await transportRun(node, id)).code, 0)
    await session()
    const seen = await bobSeen()
    assert.equal(seen.filter((m) => m.fileName === 'ridge.jpg').length, 1, 'the photo once')
    assert.equal(seen.filter((m) => m.text === text).length, 1, 'the text once')
    assert.doesNotMatch((await camp.cli(['queue'])).stdout, /held/, 'nothing is held any more')
  })
})
