// A trusted peer seen on the LAN syncs within seconds: two real Outpost
// nodes whose cards carry a wrong address find each other by mDNS alone and
// deliver mail, and the ack comes back the same way. A third node on the
// same LAN, which camp does not trust, is heard but never used. A second
// test covers mail that was already waiting (after a failed try) when the
// peer turned up.
//
// Everything networked happens inside a network namespace of the test's own
// (see test/helpers/netns.ts), so nothing is announced on this machine's
// networks. The nodes all listen on the one LAN address, each on its own
// ports; mDNS tells them apart by name, key fingerprint and port.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { makeLan, lanNode, type Lan } from '../../../helpers/netns.js'
import { messageIdCounts } from '../../../helpers/mail.js'
import { befriend } from '../../../helpers/stick.js'
import { processTree, waitAllGone, cmdline } from '../../../helpers/procs.js'
import type { TestNode } from '../../../helpers/node.js'
import { waitFor } from '../../../helpers/wait.js'

const isRoot = process.getuid?.() === 0
// Where the cards say the nodes are. Nothing answers there: a node that
// reaches its peer at all found it by mDNS.
const WRONG_HOST = '10.77.0.99'


/**
 * Sends one message by SMTP submission from inside the namespace (the only
 * place the node's address exists), as Delta Chat would: STARTTLS, AUTH.
 * Resolves with the moment the 250 came back.
 */
async function sendInside(lan: Lan, port: number, who: { address: string; password: string }, to: string, messageId: string): Promise<number> {
  const script = `
import nodemailer from 'nodemailer'
const t = nodemailer.createTransport({
  host: ${JSON.stringify(lan.address)}, port: ${port}, secure: false, requireTLS: true,
  // The node's certificate is self-signed, as on a real box.
  tls: { rejectUnauthorized: false },
  auth: { user: ${JSON.stringify(who.address)}, pass: ${JSON.stringify(who.password)} },
  connectionTimeout: 10000, greetingTimeout: 10000, socketTimeout: 30000,
})
await t.sendMail({ from: ${JSON.stringify(who.address)}, to: ${JSON.stringify(to)}, subject: 'seen on the LAN', text: 'found you by mDNS\\n', messageId: ${JSON.stringify(messageId)} })
process.stdout.write(String(Date.now()))
t.close()
`
  const r = await lan.exec(process.execPath, ['--input-type=module', '-e', script])
  assert.equal(r.code, 0, `sending ${messageId} failed: ${r.stderr}`)
  return Number(r.stdout)
}

/** camp and town trust each other from cards with the wrong address, and each has an http transport to the other. */
async function pair(camp: TestNode, town: TestNode): Promise<{ alice: { address: string; password: string }; bob: { address: string; password: string } }> {
  await befriend(camp, town)
  // The cards point at the wrong address, as after the Wi-Fi handed out new ones.
  assert.match((await camp.cli(['peer', 'list'])).stdout, new RegExp(`https://${WRONG_HOST.replace(/\./g, '\\.')}:${town.ports.web}`))
  // No url: the transports only know where the peer is from mDNS (or its card).
  for (const [from, to] of [[camp, 'town'], [town, 'camp']] as const) {
    const add = await from.cli(['transport', 'add', to, 'http'])
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout, new RegExp(`http to ${to}, schedule "event"`))
  }
  return { alice: await camp.addAccount('alice'), bob: await town.addAccount('bob') }
}

/** Stops the nodes, checks that none left a process behind, deletes their data and the namespace. */
async function teardown(lan: Lan, nodes: TestNode[]): Promise<void> {
  // Every process the nodes started, so that none is left behind (pdeathsig).
  const pids = nodes.flatMap((n) => (n.pid() ? processTree(n.pid()!) : []))
  await Promise.all(nodes.map((n) => n.stop()))
  const left = await waitAllGone(pids)
  await Promise.all(nodes.map((n) => n.destroy()))
  await lan.destroy()
  assert.deepEqual(left.map((p) => `${p} ${cmdline(p)}`), [], 'processes left behind after the nodes stopped')
}

test('two nodes with wrong addresses on their cards find each other by mDNS and sync within seconds; an untrusted box is heard but not used', { skip: isRoot ? false : 'needs root to make a network namespace', timeout: 300_000 }, async () => {
  const lan = await makeLan('op-mdsync')
  const nodes: TestNode[] = []
  try {
    const camp = await lanNode(lan, { name: 'camp', domain: 'camp.test', host: WRONG_HOST })
    nodes.push(camp)
    const town = await lanNode(lan, { name: 'town', domain: 'town.test', host: WRONG_HOST })
    nodes.push(town)
    // A box camp has never met. It trusts camp (one way), so its own log
    // shows that mDNS between the two works; camp must still ignore it.
    const yard = await lanNode(lan, { name: 'yard', domain: 'yard.test', host: WRONG_HOST })
    nodes.push(yard)

    const { alice, bob } = await pair(camp, town)
    const campCard = await camp.cli(['card', '--text'])
    assert.equal((await yard.cli(['peer', 'add', campCard.stdout.trim()])).code, 0)

    // camp and yard first; town comes onto the LAN last, as a box that just arrived.
    await Promise.all([camp.restart(), yard.restart()])
    await town.restart()
    const townUp = Date.now()
    const campSaw = `mdns: peer town seen at ${lan.address}:${town.ports.web}`
    const townSaw = `mdns: peer camp seen at ${lan.address}:${camp.ports.web}`
    await waitFor(`"${campSaw}" in camp's log`, () => camp.output().includes(campSaw), 10_000)
    const seenAfter = Date.now() - townUp
    await waitFor(`"${townSaw}" in town's log`, () => town.output().includes(townSaw), 10_000)
    await waitFor('yard to see camp', () => yard.output().includes(`mdns: peer camp seen at ${lan.address}:${camp.ports.web}`), 10_000)

    // Mail leaves at once, to the address mDNS told.
    const id = '<mdns-1@camp.test>'
    const accepted = await sendInside(lan, camp.ports.submission, alice, bob.address, id)
    await waitFor(`${id} in bob's Maildir`, () => messageIdCounts(town.data, bob.address).get(id) === 1, 15_000)
    const took = Date.now() - accepted
    console.log(`# mdns: town seen by camp ${seenAfter} ms after it was ready; 250 at camp → bob's Maildir at town in ${took} ms`)
    assert.ok(took < 3000, `delivery took ${took} ms`)

    // The ack comes back by town's transport, to where town saw camp.
    await waitFor('camp outbox to empty', async () => /the outbox is empty/.test((await camp.cli(['queue'])).stdout), { timeoutMs: 20_000, everyMs: 200 })
    assert.match((await camp.cli(['transport', 'list'])).stdout, /^1\ttown\thttp\t"event".*last run ok/m)
    assert.match((await town.cli(['transport', 'list'])).stdout, /^1\tcamp\thttp\t"event".*last run ok/m)
    // Every run went to the address mDNS told; the card's was never tried.
    for (const [n, peer] of [[camp, town], [town, camp]] as const) {
      const runs = n.output().split('\n').filter((l) => / transport \d+ \(http /.test(l))
      assert.ok(runs.length > 0 && runs.every((l) => l.endsWith(` to https://${lan.address}:${peer.ports.web}`)), runs.join('\n'))
    }

    // yard was on the same LAN all along, yet neither trusting node took it for a peer.
    for (const n of [camp, town]) assert.doesNotMatch(n.output(), /peer yard seen/, n.output())
  } finally {
    await teardown(lan, nodes)
  }
})

// The failed try at the card's address puts camp's transport into its 60 s
// backoff; the sighting must still run it at once (fresh news that the peer
// is reachable), not when the backoff ends.

test('mail that waits for a peer leaves within seconds of the peer turning up on the LAN', { skip: isRoot ? false : 'needs root to make a network namespace', timeout: 300_000 }, async () => {
  const lan = await makeLan('op-mdsync')
  const nodes: TestNode[] = []
  try {
    const camp = await lanNode(lan, { name: 'camp', domain: 'camp.test', host: WRONG_HOST })
    nodes.push(camp)
    const town = await lanNode(lan, { name: 'town', domain: 'town.test', host: WRONG_HOST })
    nodes.push(town)
    const { alice, bob } = await pair(camp, town)

    // town is away: camp takes the mail, tries the card's address and fails.
    await camp.restart()
    const id = '<mdns-2@camp.test>'
    await sendInside(lan, camp.ports.submission, alice, bob.address, id)
    await waitFor('camp to fail to reach town at the card address', () => / transport 1 \(http → town\) failed: cannot reach town/.test(camp.output()), { timeoutMs: 30_000, everyMs: 100 })

    // town comes onto the LAN; camp sees it and sends at once.
    await town.restart()
    const townUp = Date.now()
    try {
      await waitFor(`${id} in bob's Maildir`, () => messageIdCounts(town.data, bob.address).get(id) === 1, { timeoutMs: 5000, everyMs: 100 })
    } catch (err) {
      throw new Error(`${(err as Error).message} after town came up; camp's log:\n${camp.output()}`, { cause: err })
    }
    console.log(`# mdns: town ready → waiting mail in bob's Maildir in ${Date.now() - townUp} ms`)
  } finally {
    await teardown(lan, nodes)
  }
})
