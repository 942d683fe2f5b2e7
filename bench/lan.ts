// Transport part of the bench: two nodes on loopback linked by the HTTP
// transport (the LAN case). Cross-node send → IncomingMsg between real
// Delta Chat clients, against the same measure on one node from part a;
// and bundle throughput over the HTTP transport.
import { join } from 'node:path'
import { startNode, type TestNode } from '../test/helpers/node.js'
import { befriend } from '../test/helpers/stick.js'
import { smtpClient } from '../test/helpers/mail.js'
import { nodePaths } from '../server/base/paths.js'
import { chatLatency, chatPair } from './deltachat-latency.js'
import { ms, ratio, summarize, type Summary } from './percentiles.js'

const out = (line = '') => process.stdout.write(line + '\n')
const LIMITS = { OUTPOST_LIMITS_SEND_PER_MINUTE: '1000000', OUTPOST_LIMITS_SEND_BURST: '1000000' }

/** Prints the figures; returns the cross-node latency, the plain-LAN figure other links are held against. */
export async function benchLan(sameNode: Summary | undefined, messages: number, cleanups: Array<() => Promise<void>>): Promise<Summary> {
  const camp = await startNode({ domain: 'camp.test', env: LIMITS })
  cleanups.push(() => camp.destroy())
  const town = await startNode({ domain: 'town.test', env: LIMITS })
  cleanups.push(() => town.destroy())
  await befriend(camp, town)
  for (const [n, peer] of [[camp, 'town'], [town, 'camp']] as [TestNode, string][]) {
    const r = await n.cli(['transport', 'add', peer, 'http'])
    if (r.code !== 0) throw new Error(`transport add: ${r.stderr}`)
  }
  const alice = await camp.addAccount('alice')
  const bob = await town.addAccount('bob')
  const aliceUri = await camp.dclogin(alice.address)
  // `account qr` gives the account a fresh password; SMTP below uses that one.
  alice.password = new URL(aliceUri).searchParams.get('p')!
  const pair = await chatPair('lan', aliceUri, await town.dclogin(bob.address))
  cleanups.push(() => pair.close())
  const samples = await chatLatency(pair, join(nodePaths(town.data).mail, 'town.test', 'bob', 'Maildir', 'new'), messages)
  await pair.close()
  const cross = summarize(samples.map((s) => s.incomingMs))
  const stored = summarize(samples.map((s) => s.storedMs).filter((v): v is number => v !== undefined))
  out(`  Delta Chat send → IncomingMsg across two nodes over the HTTP transport (${samples.length} messages)`)
  out(`    p50 ${ms(cross.p50)}, p99 ${ms(cross.p99)}; in town's Maildir after p50 ${ms(stored.p50)}`)
  if (sameNode) out(`    against the same clients on one node (part a): p50 ${ms(sameNode.p50)}, p99 ${ms(sameNode.p99)}; ratio p50 ${ratio(cross.p50, sameNode.p50)}, p99 ${ratio(cross.p99, sameNode.p99)}`)

  // Throughput: queue mail while camp's transport is off, then time one run.
  const list = await camp.cli(['transport', 'list'])
  const id = /^(\d+)\t/m.exec(list.stdout)?.[1]
  await camp.cli(['transport', 'remove', id!])
  const N = Number(process.env.BENCH_HTTP_MESSAGES ?? 1000)
  // Armored random bytes, like a Delta Chat message's OpenPGP body (it does not compress).
  const { randomBytes } = await import('node:crypto')
  const armored = () => `-----BEGIN PGP MESSAGE-----\n\n${randomBytes(1700).toString('base64').replace(/.{76}/g, '$&\n')}\n-----END PGP MESSAGE-----\n`
  await Promise.all(
    Array.from({ length: 10 }, async (_, lane) => {
      const c = smtpClient(camp.ports.submission, alice, { pool: true })
      for (let i = lane; i < N; i += 10) await c.sendMail({ from: alice.address, to: bob.address, subject: '[...]', text: armored(), messageId: `<http${i}@camp.test>` })
      c.close()
    }),
  )
  const add = await camp.cli(['transport', 'add', 'town', 'http', '--schedule', '0 0 1 1 *'])
  const newId = /added transport (\d+)/.exec(add.stdout)?.[1]
  const t0 = performance.now()
  const run = await camp.cli(['transport', 'run', newId!])
  const secs = (performance.now() - t0) / 1000
  const bytes = /sent \d+ bundles \(([\d.]+) (KiB|MiB)/.exec(run.stdout)
  const mib = bytes ? Number(bytes[1]) / (bytes[2] === 'KiB' ? 1024 : 1) : NaN
  out(`  HTTP transport throughput: ${N} messages (${mib.toFixed(1)} MiB sealed) sent and imported in ${secs.toFixed(2)} s: ${(N / secs).toFixed(0)} messages/s, ${(mib / secs).toFixed(1)} MiB/s (includes the CLI's start-up)`)
  return cross
}
