// The same peer over two carriers at once (a folder and HTTP): the message
// arrives once, whichever copy comes first, and an ack from either path
// clears the outbox.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { campAndTown } from '../../helpers/stick.js'
import { waitFor } from '../../helpers/wait.js'


const outboxEmpty = async (n: TestNode) => /the outbox is empty/.test((await n.cli(['queue'])).stdout)

test('multi-path: a folder and HTTP to the same peer deliver once, and either ack clears the queue', { timeout: 300_000 }, async () => {
  const scene = await campAndTown()
  const { camp, town, stick, alice, bob } = scene
  try {
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'two ways', text: 'one copy only\n', messageId: '<twoways@camp.test>' })
    c.close()

    // Path 1: a copy goes onto the stick and stays there for now.
    assert.match((await camp.cli(['export', stick])).stdout, /exported 1 messages/)
    // Path 2: HTTP both ways (town acks over it as soon as it owes one).
    assert.equal((await camp.cli(['transport', 'add', 'town', 'http', '--schedule', '*/30 * * * *'])).code, 0)
    assert.equal((await town.cli(['transport', 'add', 'camp', 'http'])).code, 0)
    const run = await camp.cli(['transport', 'run', '1'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(messageIdCounts(town.data, bob.address).get('<twoways@camp.test>'), 1)
    await waitFor('the ack over HTTP', () => outboxEmpty(camp))

    // The stick arrives later with the second copy: recognised, not delivered again, acked again.
    const imp = await town.cli(['import', stick])
    assert.equal(imp.code, 0, imp.stderr)
    assert.match(imp.stdout, /0 delivered here, 0 forwarded, 1 already had/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<twoways@camp.test>'), 1, 'exactly once')
    // town's event transport sends that ack too; nothing is left owed or queued anywhere.
    await waitFor('town owes nothing', async () => /acks owed: 0/.test((await town.cli(['status'])).stdout))
    assert.ok(await outboxEmpty(camp))
    assert.ok(await outboxEmpty(town))
  } finally {
    await scene.destroy()
  }
})
