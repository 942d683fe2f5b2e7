// A real node reports what Haraka did with a message: accepted and delivered
// here over SMTP, or accepted and queued for a peer. The activity page and
// the traffic chart read exactly these rows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { openDb } from '../../../server/db/index.js'
import { nodePaths } from '../../../server/base/paths.js'
import { EventLog } from '../../../server/events/log.js'
import { initNode } from '../../../server/node/init.js'
import { exec } from '../../../server/base/exec.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { cardText, makeCard } from '../../../server/identity/card.js'
import type { OutpostEvent } from '../../../server/events/types.js'
import { waitFor } from '../../helpers/wait.js'

async function eventsOf(data: string, want: number): Promise<OutpostEvent[]> {
  const db = openDb(nodePaths(data).db, { migrate: false })
  try {
    const log = new EventLog(db)
    // Written just after the 250, on the next turn of Haraka's event loop.
    return await waitFor(`${want} events`, () => {
      const all = log.recent().reverse()
      return all.length >= want ? all : undefined
    }, 10_000)
  } finally {
    db.$client.close()
  }
}

test('Haraka reports a local message as accepted and delivered by smtp, and a message for a peer as accepted and queued', { timeout: 180_000 }, async () => {
  const camp = await startNode({ domain: 'camp.test' })
  const elsewhere = mkdtempSync(join(tmpdir(), 'op-town-'))
  try {
    const alice = await camp.addAccount('alice')
    const bob = await camp.addAccount('bob')
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'hi', text: 'hello bob\n', messageId: '<ev1@camp.test>' })
    assert.equal(messageIdCounts(camp.data, bob.address).get('<ev1@camp.test>'), 1)

    let events = await eventsOf(camp.data, 2)
    assert.deepEqual(events.map((e) => e.kind), ['message.accepted', 'message.delivered'])
    const [accepted, delivered] = events as [OutpostEvent<'message.accepted'>, OutpostEvent<'message.delivered'>]
    assert.equal(accepted.data.from, alice.address)
    assert.deepEqual(accepted.data.to, [bob.address])
    assert.ok(accepted.data.size > 0)
    assert.deepEqual(delivered.data, { messageId: accepted.data.messageId, recipient: bob.address, via: 'smtp' })

    // A peer's domain: the message waits in the outbox, and says so.
    const town = await initNode({ data: elsewhere, domain: 'town.test', host: '127.0.0.1' }, exec)
    const id = loadIdentity(town.paths)
    const add = await camp.cli(['peer', 'add', cardText(makeCard({ config: town.config, identity: id }), id.signPrivate)])
    assert.equal(add.code, 0, add.stderr)
    await c.sendMail({ from: alice.address, to: 'bob@town.test', subject: 'far', text: 'hello town\n', messageId: '<ev2@camp.test>' })
    c.close()
    events = (await eventsOf(camp.data, 4)).slice(2)
    assert.deepEqual(events.map((e) => e.kind).sort(), ['message.accepted', 'message.queued'])
    const queued = events.find((e) => e.kind === 'message.queued') as OutpostEvent<'message.queued'>
    assert.equal(queued.data.peer, 'town')
    assert.match((await camp.cli(['queue'])).stdout, /town: 1 messages/)
  } finally {
    rmSync(elsewhere, { recursive: true, force: true })
    await camp.destroy()
  }
})
