// The NNCP transport between two real Outpost nodes and two real NNCP nodes,
// each NNCP node with its own keys (nncp-cfgnew) and spool in a temp dir.
// Mail goes camp → town as nncp-exec packets and the acks come back, first
// by nncp-xfer through a folder (a stick), then by nncp-call to an
// nncp-daemon on loopback. The exec handler each NNCP node runs is the one
// `renderNncpExecSnippet` prints for users, pasted into the config as is.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, OUTPOST_BIN, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts, type SmtpAccount } from '../../helpers/mail.js'
import { befriend } from '../../helpers/stick.js'
import { accepts, freePort } from '../../helpers/ports.js'
import { cmdline, isAlive, waitAllGone } from '../../helpers/procs.js'
import { renderNncpExecSnippet } from '../../../server/transports/nncp-config.js'
import { waitFor } from '../../helpers/wait.js'
import { mustRun, nncpConfigHead, newNncpKeys as newKeys, nncpPublic as publicPart, type NncpKeys } from '../../helpers/nncp.js'

const nncp = (args: string[]) => mustRun(args[0]!, args.slice(1))


/**
 * One NNCP node's config: its keys, a private spool and log under dir (not
 * /var/spool/nncp), and the other node as its neighbour, with the exec
 * handler snippet that hands packets to this side's Outpost node.
 */
function writeNncpConfig(o: { dir: string; self: NncpKeys; neighName: string; neigh: NncpKeys; outpost: TestNode; addr?: string }): string {
  const snippet = renderNncpExecSnippet({ nodeBinary: process.execPath, outpostBin: OUTPOST_BIN, dataDir: o.outpost.data, neighbour: o.neighName })
  const neighKeys = Object.entries(publicPart(o.neigh)).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`)
  const text = [
    ...nncpConfigHead(o.dir, o.self),
    `    ${o.neighName}: {`,
    ...neighKeys,
    ...(o.addr ? [`      addrs: { lan: ${JSON.stringify(o.addr)} }`] : []),
    ...snippet.trimEnd().split('\n').map((l) => `      ${l}`),
    '    }',
    '  }',
    '}',
    '',
  ].join('\n')
  const cfg = join(o.dir, 'nncp.hjson')
  writeFileSync(cfg, text, { mode: 0o600 })
  return cfg
}


async function send(node: TestNode, from: SmtpAccount, to: string, messageId: string): Promise<void> {
  const c = smtpClient(node.ports.submission, from)
  await c.sendMail({ from: from.address, to, subject: `by nncp ${messageId}`, text: 'hello over NNCP\n', messageId })
  c.close()
  // Once the outbox holds it, a transport run can send it.
  await waitFor(`${messageId} in the outbox`, async () => /town: 1 messages/.test((await node.cli(['queue'])).stdout))
}

async function transportRun(node: TestNode): Promise<string> {
  const r = await node.cli(['transport', 'run', '1'])
  assert.equal(r.code, 0, `transport run on ${node.domain}: ${r.stderr}${r.stdout}`)
  return r.stdout
}

test('nncp transport: mail crosses by nncp-xfer through a folder and by nncp-call to a daemon, acks come back', { timeout: 300_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'op-nncp-'))
  const camp = await startNode({ domain: 'camp.test' })
  const town = await startNode({ domain: 'town.test' })
  let daemon: ChildProcess | undefined
  try {
    await befriend(camp, town)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')

    const [campKeys, townKeys] = [await newKeys(), await newKeys()]
    const daemonPort = await freePort()
    const campCfg = writeNncpConfig({ dir: join(root, 'camp'), self: campKeys, neighName: 'town', neigh: townKeys, outpost: camp, addr: `127.0.0.1:${daemonPort}` })
    const townCfg = writeNncpConfig({ dir: join(root, 'town'), self: townKeys, neighName: 'camp', neigh: campKeys, outpost: town })

    // A schedule that will not fire during the test: the runs here are the test's own.
    const never = ['--schedule', '0 0 1 1 *']
    let r = await camp.cli(['transport', 'add', 'town', 'nncp', '--set', 'node=town', '--set', `cfg=${campCfg}`, ...never])
    assert.equal(r.code, 0, r.stderr)
    r = await town.cli(['transport', 'add', 'camp', 'nncp', '--set', 'node=camp', '--set', `cfg=${townCfg}`, ...never])
    assert.equal(r.code, 0, r.stderr)
    r = await camp.cli(['transport', 'add', 'town', 'nncp', '--set', 'cfg=nncp.hjson'])
    assert.match(r.stderr, /setting "node" is required/)

    // ---- 1: a stick. nncp-xfer -tx onto it at camp, -rx from it at town.
    await send(camp, alice, bob.address, '<x1@camp.test>')
    assert.match(await transportRun(camp), /sent 1 bundles .*queued 1 messages and 0 acks in 1 NNCP packets for town/)
    const stick = join(root, 'stick')
    mkdirSync(stick)
    await nncp(['nncp-xfer', '-cfg', campCfg, '-mkdir', '-tx', stick])
    await nncp(['nncp-xfer', '-cfg', townCfg, '-rx', stick])
    // town's run tosses (NNCP runs `outpost import -`), then sends the ack it now owes.
    assert.match(await transportRun(town), /queued 0 messages and 1 acks in 1 NNCP packets for camp; tossed 1 bundles from camp/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<x1@camp.test>'), 1)
    assert.match((await camp.cli(['queue'])).stdout, /town: 1 messages/, 'no ack yet: the message waits at camp')
    await nncp(['nncp-xfer', '-cfg', townCfg, '-mkdir', '-tx', stick])
    await nncp(['nncp-xfer', '-cfg', campCfg, '-rx', stick])
    assert.match(await transportRun(camp), /tossed 1 bundles from town/)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)

    // ---- 2: online. nncp-daemon at town on loopback, nncp-call from camp.
    daemon = spawn('nncp-daemon', ['-cfg', townCfg, '-bind', `127.0.0.1:${daemonPort}`, '-noprogress', '-quiet'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let daemonErr = ''
    daemon.stderr!.on('data', (d: Buffer) => (daemonErr += d.toString()))
    await waitFor(`nncp-daemon on 127.0.0.1:${daemonPort} (${daemonErr})`, () => accepts(daemonPort))
    const call = ['nncp-call', '-cfg', campCfg, '-noprogress', '-onlinedeadline', '1', 'town']

    await send(camp, alice, bob.address, '<c1@camp.test>')
    assert.match(await transportRun(camp), /queued 1 messages and 0 acks in 1 NNCP packets/)
    await nncp(call)
    assert.match(await transportRun(town), /queued 0 messages and 1 acks .*tossed 1 bundles from camp/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<c1@camp.test>'), 1)
    await nncp(call)
    assert.match(await transportRun(camp), /tossed 1 bundles from town/)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)

    // More runs and calls carry nothing new: each message is in bob's Maildir exactly once.
    await transportRun(camp)
    await nncp(call)
    await transportRun(town)
    const counts = messageIdCounts(town.data, bob.address)
    assert.deepEqual([counts.get('<x1@camp.test>'), counts.get('<c1@camp.test>'), counts.size], [1, 1, 2])
    assert.match((await town.cli(['transport', 'list'])).stdout, /^1\tcamp\tnncp\t"0 0 1 1 \*".*last run ok/m)
    // NNCP kept nothing back: every packet that arrived was tossed.
    for (const side of ['camp', 'town']) {
      const spool = join(root, side, 'spool')
      for (const node of readdirSync(spool)) {
        let rx: string[] = []
        try {
          rx = readdirSync(join(spool, node, 'rx')).filter((n) => !['hdr', 'seen'].includes(n))
        } catch {
          /* no rx dir */
        }
        assert.deepEqual(rx, [], `${side}'s NNCP spool still holds inbound packets from ${node}`)
      }
    }
  } finally {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      const exited = new Promise((r) => daemon!.once('exit', r))
      daemon.kill('SIGTERM')
      await exited
    }
    await Promise.all([camp.destroy(), town.destroy()])
    if (daemon?.pid) assert.ok(!isAlive(daemon.pid), 'nncp-daemon is gone')
    // No NNCP process (daemon, call, toss or its handler) of this test is left behind.
    const ours = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => cmdline(pid).includes(root))
    assert.deepEqual(await waitAllGone(ours), [], 'processes left behind')
    rmSync(root, { recursive: true, force: true })
  }
})
