// A peer hands over only mail from the domains it is the route for. town is
// camp's peer; here town turns hostile and signs a bundle (with its own,
// valid key) holding mail "from" camp's own users, from a third node's
// users, and from nobody it may speak for, to be delivered at camp or
// relayed on by camp. camp quarantines each of those with a reason and
// acks them, while the honest messages in the same bundle are delivered or
// relayed once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { campAndTown } from '../../helpers/stick.js'
import { startNode } from '../../helpers/node.js'
import { maildirFiles } from '../../helpers/mail.js'
import { nodePaths } from '../../../server/base/paths.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { bundleFileName, newBundleId, sealBundle } from '../../../server/bundle/format.js'
import { stickFolder } from '../../../server/bundle/stick-layout.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'

function mail(envelope: string, from: string, to: string, subject: string) {
  const data = Buffer.from([`From: ${from}`, `To: <${to}>`, `Subject: ${subject}`, `Message-ID: <${subject}@test>`, '', `${subject}`, ''].join('\r\n'))
  return { id: stableMessageId(data, envelope), sender: envelope, recipients: [to], data }
}

test('a peer cannot deliver or relay mail under a sender it is not the route for', { timeout: 300_000 }, async () => {
  const scene = await campAndTown()
  const { camp, town, alice } = scene
  // river is a third node camp knows by its card (river need not run): river.test is river's, not town's.
  const river = await startNode({ domain: 'river.test', start: false })
  const stick = mkdtempSync(join(tmpdir(), 'op-hostile-'))
  try {
    const card = await river.cli(['card', '--text'])
    assert.equal((await camp.cli(['peer', 'add', card.stdout.trim()])).code, 0)
    // Anything not otherwise routed goes to town: the Internet is behind it.
    assert.equal((await camp.cli(['route', 'add', '*', 'town'])).code, 0)

    const messages = [
      // Forged: camp's own user, in the envelope or only in From:.
      mail('alice@camp.test', 'Alice <alice@camp.test>', alice.address, 'forged-envelope'),
      mail('bob@town.test', '"Bob" <bob@town.test>, alice@camp.test', alice.address, 'forged-from-list'),
      mail('', 'Mail System <mailer-daemon@camp.test>', alice.address, 'forged-bounce'),
      // Forged: river's users, which town is not the route for; delivered here and relayed on to river.
      mail('fisher@river.test', 'fisher@river.test', alice.address, 'forged-river'),
      mail('bob@town.test', 'fisher@river.test', 'otter@river.test', 'forged-relay'),
      // Honest: town's own user, and the Internet behind town (camp's default route).
      mail('bob@town.test', 'Bob <bob@town.test>', alice.address, 'honest-town'),
      mail('friend@elsewhere.test', 'friend@elsewhere.test', alice.address, 'honest-internet'),
      mail('bob@town.test', 'bob@town.test', 'otter@river.test', 'honest-relay'),
    ]
    const townId = loadIdentity(nodePaths(town.data))
    const campId = loadIdentity(nodePaths(camp.data))
    const now = Date.now()
    const header = { id: newBundleId(), kind: 'mail' as const, origin: 'town', destination: 'camp', created: now, expires: now + 86_400_000, hops: 0, hopLimit: 16 }
    mkdirSync(stickFolder(stick, 'camp'), { recursive: true })
    writeFileSync(join(stickFolder(stick, 'camp'), bundleFileName(header)), await sealBundle({ header, payload: { messages }, signKey: townId.signPrivate, recipient: campId.ageRecipient }))

    const imp = await camp.cli(['import', stick])
    assert.equal(imp.code, 0, imp.stderr + imp.stdout)

    const box = maildirFiles(camp.data, alice.address).map((f) => readFileSync(f, 'latin1'))
    for (const s of ['honest-town', 'honest-internet']) assert.equal(box.filter((m) => m.includes(`Subject: ${s}`)).length, 1, `${s} delivered once`)
    assert.equal(box.filter((m) => m.includes('Subject: forged')).length, 0, 'no forged message reached alice')
    const queue = (await camp.cli(['queue'])).stdout
    assert.match(queue, /^river: 1 messages/m, 'only the honest message is relayed on to river')

    const qdir = join(camp.data, 'quarantine')
    const reasons = readdirSync(qdir).filter((n) => n.endsWith('.reason.txt')).map((n) => readFileSync(join(qdir, n), 'utf8'))
    assert.equal(reasons.length, 5, reasons.join('\n'))
    const has = (re: RegExp) => assert.ok(reasons.some((r) => re.test(r)), `a reason matches ${re}:\n${reasons.join('\n')}`)
    has(/town may not send as <alice@camp\.test> \(envelope sender\): camp\.test is this node's own domain/)
    has(/town may not send mail whose From: is at camp\.test/)
    has(/town may not send as <fisher@river\.test> \(envelope sender\): mail for river\.test goes to river, not to town/)
    has(/town may not send mail whose From: is at river\.test: mail for river\.test goes to river, not to town/)

    // Acked, so town does not send them again: camp owes town an ack for all eight.
    assert.match((await camp.cli(['status'])).stdout, /acks owed: 8/)
  } finally {
    rmSync(stick, { recursive: true, force: true })
    await river.destroy()
    await scene.destroy()
  }
})
