// Pickup over the HTTP transport when the link drops at the worst moment:
// an off-grid node (camp) fetches what waits for it at its gateway (town).
// A pickup answer counts as handed over only when camp confirms it, so
//   - an answer that never reached camp (the gateway lost power with it
//     sealed) hands over nothing: the next pickup carries the same mail, at
//     once, not a retransmit timeout later;
//   - an answer camp imported but never confirmed (camp lost power between
//     the two) is not fetched twice: the ack camp recorded on import goes
//     first on the next run, and the gateway has nothing left to send.
// Both end with the gateway's outbox empty: the acks came back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { befriend } from '../../helpers/stick.js'
import { waitFor } from '../../helpers/wait.js'

test('a pickup answer lost on its way or never confirmed loses nothing and doubles nothing', { timeout: 300_000 }, async () => {
  // The same object the helper passes to every start and CLI run of the node: set and cleared per step.
  const townEnv: Record<string, string> = {}
  const campEnv: Record<string, string> = {}
  const town = await startNode({ domain: 'town.test', name: 'town', env: townEnv })
  const camp = await startNode({ domain: 'camp.test', name: 'camp', env: campEnv })
  try {
    await befriend(camp, town)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')
    // Only camp runs a transport, by hand: the gateway cannot reach it.
    const add = await camp.cli(['transport', 'add', 'town', 'http', '--schedule', '0 0 1 1 *', '--set', `url=https://127.0.0.1:${town.ports.web}`, '--set', 'pickup=yes'])
    assert.equal(add.code, 0, add.stderr)
    const id = /added transport (\d+)/.exec(add.stdout)![1]!
    const run = () => camp.cli(['transport', 'run', id])
    const waiting = async () => (await town.cli(['queue'])).stdout

    const send = async (messageId: string) => {
      const c = smtpClient(town.ports.submission, bob)
      await c.sendMail({ from: bob.address, to: alice.address, subject: messageId, text: 'for the camp\n', messageId })
      c.close()
      await waitFor(`${messageId} waiting at the gateway for camp`, async () => /^camp: 1 messages/m.test(await waiting()))
    }

    // 1. The gateway seals the answer and loses power before a byte of it leaves.
    await send('<lost-answer@town.test>')
    await town.stop()
    townEnv.OUTPOST_CRASH_AT = 'pickup.answer-sealed:1'
    await town.restart()
    const cut = await run()
    assert.notEqual(cut.code, 0, 'the run fails: the answer never came')
    assert.match(cut.stderr, /cannot pick up from town/)
    await waitFor('the gateway to have died at the crash point', async () => /crash point pickup\.answer-sealed/.test(town.output()))
    delete townEnv.OUTPOST_CRASH_AT
    await town.restart()
    assert.equal(messageIdCounts(camp.data, alice.address).get('<lost-answer@town.test>'), undefined, 'nothing arrived yet')
    // The very next run brings it: it was never counted as handed over.
    const again = await run()
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /received [1-9]/)
    assert.equal(messageIdCounts(camp.data, alice.address).get('<lost-answer@town.test>'), 1)
    assert.match(await waiting(), /the outbox is empty/, 'the ack went back in the same run')

    // 2. Camp imports the answer and loses power before it confirms it.
    await send('<unconfirmed@town.test>')
    campEnv.OUTPOST_CRASH_AT = 'pickup.imported:1'
    const killed = await run()
    delete campEnv.OUTPOST_CRASH_AT
    assert.match(killed.stderr, /crash point pickup\.imported/)
    assert.equal(messageIdCounts(camp.data, alice.address).get('<unconfirmed@town.test>'), 1, 'imported before the power cut')
    assert.match(await waiting(), /^camp: 1 messages/m, 'still waiting at the gateway: no ack, no confirmation')
    const after = await run()
    assert.equal(after.code, 0, after.stderr)
    assert.match(after.stdout, /sent 0 messages and 1 acks/, 'the ack recorded on import went first')
    assert.match(after.stdout, /received 0/, 'so nothing came twice')
    assert.equal(messageIdCounts(camp.data, alice.address).get('<unconfirmed@town.test>'), 1)
    assert.match(await waiting(), /the outbox is empty/)
  } finally {
    await camp.destroy()
    await town.destroy()
  }
})
