// The HTTP transport between two real nodes on loopback: mail leaves on its
// own as soon as it is accepted, the ack comes back the same way, and the
// peer route refuses requests that are not signed by a known peer's key.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { befriend } from '../../helpers/stick.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { nodePaths } from '../../../server/base/paths.js'
import { signRequest, REPLAY_WINDOW_MS } from '../../../server/transports/http-auth.js'
import { postBundle, type PostResult } from '../../../server/transports/http.js'
import { waitFor } from '../../helpers/wait.js'


/** The reason a refusal gives. */
function answer(r: PostResult): string {
  return (JSON.parse(r.body) as { error: string }).error
}

function quarantined(node: TestNode): string[] {
  try {
    return readdirSync(join(node.data, 'quarantine'))
  } catch {
    return []
  }
}

test('http transport: delivery on event within 2 s, acks come back, unsigned and stale requests are refused', { timeout: 300_000 }, async () => {
  const camp = await startNode({ domain: 'camp.test' })
  const town = await startNode({ domain: 'town.test' })
  const stick = mkdtempSync(join(tmpdir(), 'op-http-'))
  try {
    await befriend(camp, town)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')
    const endpoint = new URL(`https://127.0.0.1:${town.ports.web}/api/peer/bundles`)
    const post = (body: Buffer, headers: Record<string, string>): Promise<PostResult> => postBundle(endpoint, body, headers, { insecureTls: true })

    // A genuine bundle from camp, taken by hand before any transport exists.
    const c0 = smtpClient(camp.ports.submission, alice)
    await c0.sendMail({ from: alice.address, to: bob.address, subject: 'by hand', text: 'first\n', messageId: '<h0@camp.test>' })
    c0.close()
    const exp = await camp.cli(['export', stick])
    assert.equal(exp.code, 0, exp.stderr)
    const dir = join(stick, 'outpost', 'town')
    const files = readdirSync(dir).filter((n) => n.endsWith('.obundle'))
    assert.equal(files.length, 1)
    const bundle = readFileSync(join(dir, files[0]!))
    const campKey = loadIdentity(nodePaths(camp.data)).signPrivate
    const strangerKey = generateKeyPairSync('ed25519').privateKey

    // A node this node has never heard of.
    let r = await post(bundle, signRequest({ node: 'stranger', key: strangerKey, body: bundle }))
    assert.equal(r.status, 401)
    assert.match(answer(r), /"stranger" is not a peer of this node/)
    // A known name, but not its key.
    r = await post(bundle, signRequest({ node: 'camp', key: strangerKey, body: bundle }))
    assert.equal(r.status, 401)
    assert.match(answer(r), /bad signature/)
    // The right key, but a date from outside the replay window.
    r = await post(bundle, signRequest({ node: 'camp', key: campKey, body: bundle, now: Date.now() - REPLAY_WINDOW_MS - 60_000 }))
    assert.equal(r.status, 401)
    assert.match(answer(r), /behind this node's clock/)
    // None of it reached the import: nothing delivered, nothing quarantined.
    assert.equal(messageIdCounts(town.data, bob.address).get('<h0@camp.test>'), undefined)
    assert.deepEqual(quarantined(town), [])

    // Signed properly, it is imported; the very same request again is a replay.
    const good = signRequest({ node: 'camp', key: campKey, body: bundle })
    r = await post(bundle, good)
    assert.equal(r.status, 200, r.body)
    assert.deepEqual(JSON.parse(r.body), { outcome: 'imported', bundle: JSON.parse(r.body).bundle, delivered: 1, forwarded: 0, duplicates: 0, quarantined: 0, acked: 0 })
    assert.equal(messageIdCounts(town.data, bob.address).get('<h0@camp.test>'), 1)
    r = await post(bundle, good)
    assert.equal(r.status, 401)
    assert.match(answer(r), /replay/)
    // Freshly signed, the same bundle again is a duplicate and delivers nothing twice.
    r = await post(bundle, signRequest({ node: 'camp', key: campKey, body: bundle }))
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.body).outcome, 'duplicate')
    assert.equal(messageIdCounts(town.data, bob.address).get('<h0@camp.test>'), 1)

    // Bad settings are refused when the transport is added.
    let cli = await camp.cli(['transport', 'add', 'town', 'http', '--set', 'url=ftp://127.0.0.1/'])
    assert.equal(cli.code, 1)
    assert.match(cli.stderr, /must start with https:\/\/ or http:\/\//)
    cli = await camp.cli(['transport', 'add', 'town', 'http', '--set', 'insecure_tls=maybe'])
    assert.match(cli.stderr, /insecure_tls must be yes or no/)

    // Each node gets an http transport to the other; the URL comes from the card, the schedule is `event`.
    cli = await camp.cli(['transport', 'add', 'town', 'http'])
    assert.equal(cli.code, 0, cli.stderr)
    assert.match(cli.stdout, /http to town, schedule "event"/)
    cli = await town.cli(['transport', 'add', 'camp', 'http'])
    assert.equal(cli.code, 0, cli.stderr)

    // The ack town owes for the hand-carried message goes back on its own.
    await waitFor('camp to hear the ack for <h0>', async () => /the outbox is empty/.test((await camp.cli(['queue'])).stdout), { timeoutMs: 20_000, everyMs: 200 })

    // Mail leaves at once: in bob's Maildir within 2 s of the 250, with no CLI call.
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'over http', text: 'hello over the LAN\n', messageId: '<h1@camp.test>' })
    const accepted = Date.now()
    c.close()
    await waitFor('<h1> in bob\'s Maildir', () => messageIdCounts(town.data, bob.address).get('<h1@camp.test>') === 1, 10_000)
    const took = Date.now() - accepted
    console.log(`# http transport: 250 at camp → bob's Maildir at town in ${took} ms`)
    assert.ok(took < 2000, `delivery took ${took} ms`)

    // The ack comes back by town's own http transport, and camp's outbox empties.
    await waitFor('camp outbox to empty', async () => /the outbox is empty/.test((await camp.cli(['queue'])).stdout), { timeoutMs: 20_000, everyMs: 200 })
    assert.match((await camp.cli(['transport', 'list'])).stdout, /^1\ttown\thttp\t"event".*last run ok/m)
    assert.match((await town.cli(['transport', 'list'])).stdout, /^1\tcamp\thttp\t"event".*last run ok/m)
    assert.deepEqual(quarantined(town), [])
  } finally {
    rmSync(stick, { recursive: true, force: true })
    await Promise.all([camp.destroy(), town.destroy()])
  }
})
