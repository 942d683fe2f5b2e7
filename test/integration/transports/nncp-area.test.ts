// The NNCP transport through a multicast area, with three real Outpost
// nodes and three real NNCP nodes (nncp-cfgnew keys, spools in a temp dir).
// camp posts a bundle for town to the area; camp meets only hub, and hub
// meets town (nncp-xfer through two folders): camp never meets town. hub is
// the recommended member: it holds the area's keys (it must, to get its own
// mail through the area), so NNCP hands it the bundle, and its Outpost
// passes it over, sealed to town as it is, while NNCP relays it on. The area
// block each node runs is the one `renderNncpAreaSnippet` prints for users,
// pasted into the config as is.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { startNode, OUTPOST_BIN, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { befriend } from '../../helpers/stick.js'
import { cmdline, waitAllGone } from '../../helpers/procs.js'
import { renderNncpAreaSnippet, type NncpAreaKeys } from '../../../server/transports/nncp-config.js'
import { mustRun, nncpConfigHead, newNncpAreaKeys, newNncpKeys as newNodeKeys, nncpPublic as publicPart, type NncpKeys } from '../../helpers/nncp.js'
import { nodePaths } from '../../../server/base/paths.js'
import { waitFor } from '../../helpers/wait.js'

const AREA = 'valley'
const nncp = (args: string[]) => mustRun(args[0]!, args.slice(1))
/** The area's keys, made once for the group as a user makes them. */
const newAreaKeys = () => newNncpAreaKeys(AREA)


/**
 * One NNCP node's config: its keys, a private spool and log under dir, every
 * other member in neigh (public keys only: NNCP checks each poster's
 * signature), and the area block printed for this node's Outpost.
 */
function writeNncpConfig(o: { dir: string; self: NncpKeys; members: Record<string, NncpKeys>; subs: string[]; area: NncpAreaKeys; outpost: TestNode }): string {
  const snippet = renderNncpAreaSnippet({ nodeBinary: process.execPath, outpostBin: OUTPOST_BIN, dataDir: o.outpost.data, area: AREA, subs: o.subs, keys: o.area })
  const text = [
    ...nncpConfigHead(o.dir, o.self),
    ...Object.entries(o.members).map(([name, k]) => `    ${name}: ${JSON.stringify(publicPart(k))}`),
    '  }',
    ...snippet.trimEnd().split('\n').map((l) => `  ${l}`),
    '}',
    '',
  ].join('\n')
  const cfg = join(o.dir, 'nncp.hjson')
  writeFileSync(cfg, text, { mode: 0o600 })
  return cfg
}

async function transportRun(node: TestNode): Promise<string> {
  const r = await node.cli(['transport', 'run', '1'])
  assert.equal(r.code, 0, `transport run on ${node.domain}: ${r.stderr}${r.stdout}`)
  return r.stdout
}

/** Every file under dir whose content holds `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    const f = join(e.parentPath, e.name)
    let bytes: Buffer
    try {
      bytes = readFileSync(f)
    } catch (err) {
      // The node runs: a file listed a moment ago (a journal, a lock) may be gone.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw err
    }
    if (bytes.includes(needle)) found.push(f)
  }
  return found
}

/** Rows of a node's ledger tables, read as the node left them. */
function ledger(node: TestNode): { bundles: { origin: string; kind: string }[]; seen: number } {
  const db = new Database(nodePaths(node.data).db, { readonly: true })
  try {
    return {
      bundles: db.prepare('SELECT origin, kind FROM imported_bundles').all() as { origin: string; kind: string }[],
      seen: (db.prepare('SELECT count(*) AS n FROM seen_messages').get() as { n: number }).n,
    }
  } finally {
    db.close()
  }
}

function quarantined(node: TestNode): string[] {
  try {
    return readdirSync(nodePaths(node.data).quarantine)
  } catch {
    return []
  }
}

test('nncp area: a bundle camp posts for town reaches it through hub alone, once; hub passes it over unread; the ack comes back the same way', { timeout: 300_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'op-area-'))
  const camp = await startNode({ domain: 'camp.test' })
  const hub = await startNode({ domain: 'hub.test' })
  const town = await startNode({ domain: 'town.test' })
  try {
    // A group of three boxes: every one is a peer of every other.
    await befriend(camp, hub)
    await befriend(hub, town)
    await befriend(camp, town)
    const alice = await camp.addAccount('alice')
    await hub.addAccount('hank')
    const bob = await town.addAccount('bob')

    const keys = { camp: await newNodeKeys(), hub: await newNodeKeys(), town: await newNodeKeys() }
    const area = await newAreaKeys()
    const others = (self: keyof typeof keys) => Object.fromEntries(Object.entries(keys).filter(([n]) => n !== self))
    // Who meets whom: camp and town each meet only hub.
    const cfg = {
      camp: writeNncpConfig({ dir: join(root, 'camp'), self: keys.camp, members: others('camp'), subs: ['hub'], area, outpost: camp }),
      hub: writeNncpConfig({ dir: join(root, 'hub'), self: keys.hub, members: others('hub'), subs: ['camp', 'town'], area, outpost: hub }),
      town: writeNncpConfig({ dir: join(root, 'town'), self: keys.town, members: others('town'), subs: ['hub'], area, outpost: town }),
    }
    const never = ['--schedule', '0 0 1 1 *']
    let r = await camp.cli(['transport', 'add', 'town', 'nncp', '--set', 'node=town', '--set', `area=${AREA}`, '--set', `cfg=${cfg.camp}`, ...never])
    assert.equal(r.code, 0, r.stderr)
    r = await town.cli(['transport', 'add', 'camp', 'nncp', '--set', 'node=camp', '--set', `area=${AREA}`, '--set', `cfg=${cfg.town}`, ...never])
    assert.equal(r.code, 0, r.stderr)

    const messageId = '<area1@camp.test>'
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'through the valley', text: 'hello through an NNCP area\n', messageId })
    c.close()
    await waitFor(`${messageId} in camp's outbox`, async () => /town: 1 messages/.test((await camp.cli(['queue'])).stdout))

    // camp posts to the area; its own toss copies the post to its one subscriber, hub.
    assert.match(await transportRun(camp), /sent 1 bundles .*queued 1 messages and 0 acks in 1 NNCP packets for town in area valley/)

    // A stick from camp to hub. hub's toss hands the packet to hub's Outpost
    // (which passes it over) and copies it on for town.
    const campHub = join(root, 'camp-hub')
    const hubTown = join(root, 'hub-town')
    for (const d of [campHub, hubTown]) mkdirSync(d)
    await nncp(['nncp-xfer', '-cfg', cfg.camp, '-mkdir', '-tx', campHub])
    await nncp(['nncp-xfer', '-cfg', cfg.hub, '-rx', campHub])
    await nncp(['nncp-toss', '-cfg', cfg.hub, '-noprogress'])
    assert.match(readFileSync(join(root, 'hub', 'log'), 'utf8'), /Got exec from valley to outpost-import/, 'hub\'s Outpost was handed the bundle')

    // A second stick from hub to town; a copy of it is kept to bring the same packets again later.
    await nncp(['nncp-xfer', '-cfg', cfg.hub, '-mkdir', '-tx', hubTown])
    const hubTownAgain = join(root, 'hub-town-again')
    cpSync(hubTown, hubTownAgain, { recursive: true })
    await nncp(['nncp-xfer', '-cfg', cfg.town, '-rx', hubTown])
    // town's run tosses (its Outpost imports the bundle), then posts the ack it owes camp.
    assert.match(await transportRun(town), /queued 0 messages and 1 acks in 1 NNCP packets for camp in area valley; tossed 1 bundles from area valley/)
    assert.equal(messageIdCounts(town.data, bob.address).get(messageId), 1, 'bob has the message once')

    // hub relayed it and could not read it: nothing of it in hub's mail,
    // ledger, outbox, relay folder or quarantine.
    assert.deepEqual(filesHolding(nodePaths(hub.data).mail, 'area1@camp.test'), [])
    assert.deepEqual(ledger(hub), { bundles: [], seen: 0 })
    assert.deepEqual(quarantined(hub), [])
    assert.match((await hub.cli(['queue'])).stdout, /the outbox is empty/)
    assert.deepEqual(filesHolding(hub.data, 'area1@camp.test').filter((f) => !f.endsWith('.log')), [])
    assert.deepEqual(ledger(town).bundles, [{ origin: 'camp', kind: 'mail' }])

    // The same packets brought to town again, and tossed again: NNCP knows
    // the area message (its MsgHash) and drops it; nothing new arrives.
    await nncp(['nncp-xfer', '-cfg', cfg.town, '-rx', hubTownAgain])
    assert.match(await transportRun(town), /tossed 0 bundles from area valley/)
    // The message once more, by another way (camp's stick straight to
    // town, in a new bundle): Outpost's ledger counts it as seen before.
    const direct = join(root, 'direct')
    mkdirSync(direct)
    assert.equal((await camp.cli(['export', direct])).code, 0)
    r = await town.cli(['import', direct])
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /0 delivered here, 0 forwarded, 1 already had/)
    assert.equal(messageIdCounts(town.data, bob.address).get(messageId), 1, 'still once')
    assert.match((await camp.cli(['queue'])).stdout, /town: 1 messages/, 'no ack at camp yet')

    // The ack goes back the same way: town → hub → camp.
    await nncp(['nncp-xfer', '-cfg', cfg.town, '-mkdir', '-tx', hubTown])
    await nncp(['nncp-xfer', '-cfg', cfg.hub, '-rx', hubTown])
    await nncp(['nncp-toss', '-cfg', cfg.hub, '-noprogress'])
    await nncp(['nncp-xfer', '-cfg', cfg.hub, '-mkdir', '-tx', campHub])
    await nncp(['nncp-xfer', '-cfg', cfg.camp, '-rx', campHub])
    assert.match(await transportRun(camp), /tossed 1 bundles from area valley/)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)
    // hub passed the ack over too: still nothing in its ledger or quarantine.
    assert.deepEqual(ledger(hub), { bundles: [], seen: 0 })
    assert.deepEqual(quarantined(hub), [])
    assert.equal(messageIdCounts(town.data, bob.address).get(messageId), 1)
  } finally {
    await Promise.all([camp.destroy(), hub.destroy(), town.destroy()])
    // No NNCP process (toss, xfer or a handler) of this test is left behind.
    const ours = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => cmdline(pid).includes(root))
    assert.deepEqual(await waitAllGone(ours), [], 'processes left behind')
    rmSync(root, { recursive: true, force: true })
  }
})
