// A rogue peer tries to push a running node's clock floor ahead with many
// small signed bundles over HTTP, as an attack on camp did (twenty ack
// bundles moved it months ahead; then every honest request was refused as
// "behind"). The floor now stays within a bounded lead of camp's own time;
// the admin sees it and what set it in `outpost status`, and `outpost clock
// reset` brings the running node back, after which an honest peer's
// requests go through again.
import { test } from 'node:test'
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { campAndTown } from '../../helpers/stick.js'
import { nodePaths } from '../../../server/base/paths.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { newBundleId, sealBundle } from '../../../server/bundle/format.js'
import { signRequest } from '../../../server/transports/http-auth.js'
import { postBundle } from '../../../server/transports/http.js'
import { PEER_LEAD_LIMIT_MS } from '../../../server/base/clock.js'
import { waitFor } from '../../helpers/wait.js'

const DAY = 86_400_000

test("a peer's bundles move a running node's floor at most a bounded lead ahead, and a reset undoes it", { timeout: 300_000 }, async () => {
  const scene = await campAndTown()
  const { camp, town } = scene
  try {
    const townId = loadIdentity(nodePaths(town.data))
    const campId = loadIdentity(nodePaths(camp.data))
    const url = new URL(`https://127.0.0.1:${camp.ports.web}/api/peer/bundles`)
    const post = async (body: Buffer, date: number) => postBundle(url, body, signRequest({ node: 'town', key: townId.signPrivate, body, now: date }), { insecureTls: true })
    const start = Date.now()

    // Twenty tiny ack bundles, each dated 1.5 days after the one before
    // (within the lead of the floor the one before set), each request
    // signed with the date the attacker expects camp's clock to show by then.
    const statuses: number[] = []
    let believed = start
    for (let i = 1; i <= 20; i++) {
      const created = start + i * 1.5 * DAY
      const header = { id: newBundleId(), kind: 'ack' as const, origin: 'town', destination: 'camp', created, expires: created + 90 * DAY, hops: 0, hopLimit: 16 }
      const body = await sealBundle({ header, payload: { acks: { messageIds: [], bundleIds: [] } }, signKey: townId.signPrivate, recipient: campId.ageRecipient })
      statuses.push((await post(body, believed)).status)
      believed = created
    }
    assert.equal(statuses[0], 200, 'the first request, dated right, is taken')

    // The running node stores its floor as soon as a bundle moves it.
    const db = new Database(nodePaths(camp.data).db, { readonly: true })
    const floor = JSON.parse((db.prepare("SELECT value FROM settings WHERE key = 'clock.floor'").get() as { value: string }).value) as number
    db.close()
    assert.ok(floor <= Date.now() + PEER_LEAD_LIMIT_MS, `the floor ${new Date(floor).toISOString()} is at most ${PEER_LEAD_LIMIT_MS / DAY} days ahead`)
    const status = (await camp.cli(['status'])).stdout
    assert.match(status, new RegExp(`floor ${new Date(floor).toISOString().slice(0, 16)}`), status)
    assert.match(status, /set by a bundle from town dated/, 'the admin sees what set the floor')
    assert.match(status, /outpost clock reset/)

    // Within the lead, an honest request dated by a right clock is still refused as behind…
    const honest = async () => {
      const header = { id: newBundleId(), kind: 'ack' as const, origin: 'town', destination: 'camp', created: Date.now(), expires: Date.now() + 90 * DAY, hops: 0, hopLimit: 16 }
      const body = await sealBundle({ header, payload: { acks: { messageIds: [], bundleIds: [] } }, signKey: townId.signPrivate, recipient: campId.ageRecipient })
      return post(body, Date.now())
    }
    const refused = await honest()
    assert.equal(refused.status, 401)
    assert.match(refused.body.toString(), /behind this node's clock/)

    // …until the admin resets the floor; the running node takes the reset within seconds.
    const reset = await camp.cli(['clock', 'reset'])
    assert.equal(reset.code, 0, reset.stderr)
    assert.match(reset.stdout, /set by a reset at/)
    let answer = await honest()
    await waitFor('an honest request to go through after the reset', async () => {
      answer = await honest()
      return answer.status === 200
    }, { timeoutMs: 20_000, everyMs: 250, explain: () => `the node answered ${answer.status}: ${answer.body.toString()}` })
    assert.equal(answer.status, 200, `an honest request goes through after the reset: ${answer.body.toString()}`)
  } finally {
    await scene.destroy()
  }
})
