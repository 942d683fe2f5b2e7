// Bundles between a box whose wall clock is wrong and one whose clock is
// right: the wrong box's floor keeps its bundles acceptable, and the first
// stick from a peer teaches it the time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initNode } from '../../../server/node/init.js'
import { openNode } from '../../../server/context/context.js'
import { exec } from '../../../server/base/exec.js'
import { Exchange, exchangeServices } from '../../../server/exchange/exchange.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { makeCard } from '../../../server/identity/card.js'
import { FLOOR_KEY, FloorClock } from '../../../server/base/clock.js'
import { settingsFloorStore } from '../../../server/db/settings.js'
import { openDb } from '../../../server/db/index.js'

const DAY = 86_400_000

test('a box that rebooted to 1970 still makes bundles its peer accepts, and learns the time from the peer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-clock-'))
  try {
    const [camp, town, city] = await Promise.all(
      ['camp', 'town', 'city'].map((n) => initNode({ data: join(dir, n), domain: `${n}.test`, host: '127.0.0.1' }, exec)),
    )
    const campNode = openNode(camp!.paths.data)
    const townNode = openNode(town!.paths.data)
    try {
      // Camp was last running a day ago; it rebooted with no RTC and no
      // network, and its wall clock reads 1970.
      const lastRun = Date.now() - DAY
      settingsFloorStore(campNode.db).set(FLOOR_KEY, lastRun)
      campNode.clock = new FloorClock({ store: settingsFloorStore(campNode.db), wall: () => 0 })
      assert.ok(campNode.clock.now() >= lastRun)

      const cx = new Exchange(campNode, exchangeServices(campNode))
      const tx = new Exchange(townNode, exchangeServices(townNode))
      cx.peers.add(makeCard({ config: town!.config, identity: loadIdentity(town!.paths) }))
      tx.peers.add(makeCard({ config: camp!.config, identity: loadIdentity(camp!.paths) }))
      tx.peers.add(makeCard({ config: city!.config, identity: loadIdentity(city!.paths) }))
      // Mail from camp for city goes by way of town: town forwards it, so no mail server is needed here.
      cx.peers.addRoute('city.test', 'town')
      const id = 'c'.repeat(64)
      cx.outbox.enqueue({ messageId: id, sender: 'alice@camp.test', data: Buffer.from('Subject: hi\r\n\r\nhello\r\n'), byPeer: new Map([['town', ['carol@city.test']]]), hops: 0 })

      const stick = join(dir, 'stick')
      mkdirSync(stick)
      const [out] = await cx.exportTo(stick)
      assert.equal(out?.messages, 1)
      const imported = await tx.importFrom(stick)
      const mail = imported.find((r) => r.outcome.kind !== 'relayed')
      assert.equal(mail?.outcome.kind, 'imported', `town took camp's bundle (not as expired): ${JSON.stringify(mail?.outcome)}`)
      assert.equal(mail?.outcome.kind === 'imported' && mail.outcome.forwarded, 1)
      assert.deepEqual(tx.outbox.waiting('city').map((e) => e.messageId), [id], 'the message waits at town for city')

      // Town's ack goes back on the stick, dated by town's right clock.
      const before = Date.now()
      await tx.exportTo(stick)
      await cx.importFrom(stick)
      assert.deepEqual(cx.outbox.waiting('town'), [], "camp's outbox is empty: the ack came through")
      assert.ok(campNode.clock.now() >= before, `camp's clock learnt the time from town's bundle: ${new Date(campNode.clock.now()).toISOString()}`)
      assert.ok(settingsFloorStore(campNode.db).get(FLOOR_KEY)! >= before, 'and stored it for the next boot')
    } finally {
      campNode.close()
      townNode.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('without its floor, a box at 1970 makes bundles that arrive expired: what the floor prevents', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-clock-'))
  try {
    const [camp, town] = await Promise.all(['camp', 'town'].map((n) => initNode({ data: join(dir, n), domain: `${n}.test`, host: '127.0.0.1' }, exec)))
    const campNode = openNode(camp!.paths.data)
    const townNode = openNode(town!.paths.data)
    try {
      campNode.clock = new FloorClock({ store: settingsFloorStore(openDb(':memory:')), wall: () => 0 })
      const cx = new Exchange(campNode, exchangeServices(campNode))
      const tx = new Exchange(townNode, exchangeServices(townNode))
      cx.peers.add(makeCard({ config: town!.config, identity: loadIdentity(town!.paths) }))
      tx.peers.add(makeCard({ config: camp!.config, identity: loadIdentity(camp!.paths) }))
      cx.outbox.enqueue({ messageId: 'd'.repeat(64), sender: 'alice@camp.test', data: Buffer.from('Subject: hi\r\n\r\nhello\r\n'), byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
      const stick = join(dir, 'stick')
      mkdirSync(stick)
      await cx.exportTo(stick)
      const [r] = await tx.importFrom(stick)
      assert.equal(r?.outcome.kind === 'quarantined' && r.outcome.reason, 'expired')
    } finally {
      campNode.close()
      townNode.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
