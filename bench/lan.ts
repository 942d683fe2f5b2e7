// Transport part of the bench: two nodes on loopback linked by the HTTP
// transport (the LAN case). Cross-node send → IncomingMsg between real
// Delta Chat clients, against the same measure on one node from part a;
// and bundle throughput over the HTTP transport.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { HOP_STEPS, parseHopTrace, type HopMark, type HopStep } from '../server/base/hop-trace.js'
import { startNode, type TestNode } from '../test/helpers/node.js'
import { befriend } from '../test/helpers/stick.js'
import { smtpClient } from '../test/helpers/mail.js'
import { nodePaths } from '../server/base/paths.js'
import { chatLatency, chatPair, type ChatSample } from './deltachat-latency.js'
import { ms, ratio, summarize, type Summary } from './percentiles.js'

const out = (line = '') => process.stdout.write(line + '\n')
const LIMITS = { OUTPOST_LIMITS_SEND_PER_MINUTE: '1000000', OUTPOST_LIMITS_SEND_BURST: '1000000' }
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ')

/** The steps each node's trace gives for a message from camp to town: the sender's, then the receiver's. */
const SENDER_STEPS = HOP_STEPS.slice(0, HOP_STEPS.indexOf('peer.request'))
const RECEIVER_STEPS = HOP_STEPS.slice(HOP_STEPS.indexOf('peer.request'))
/** A mark that belongs to the mail bundle, not to the acks that flow back. */
const forMail = (m: HopMark) => !(m.s === 'export.sealed' || m.s === 'export.settled' || m.s === 'import.opened') || m.d?.startsWith('mail') === true

const readTrace = (file: string): HopMark[] => (existsSync(file) ? parseHopTrace(readFileSync(file, 'utf8')) : [])

/**
 * Each step's first mark after a message was sent (and before it arrived),
 * in ms since the send, per message: camp's steps from camp's trace, town's
 * from town's. The messages are 1.2 s apart and each arrives before the
 * next is sent, so a window holds one message's hop.
 */
export function hopTimes(samples: ChatSample[], sender: HopMark[], receiver: HopMark[]): Map<HopStep, (number | undefined)[]> {
  const out = new Map<HopStep, (number | undefined)[]>(HOP_STEPS.map((s) => [s, []]))
  for (const sample of samples) {
    const end = sample.sentAt + sample.incomingMs
    for (const [steps, marks] of [[SENDER_STEPS, sender], [RECEIVER_STEPS, receiver]] as const) {
      for (const step of steps) {
        const m = marks.find((x) => x.s === step && x.t >= sample.sentAt && x.t <= end && forMail(x))
        out.get(step)!.push(m ? m.t - sample.sentAt : undefined)
      }
    }
  }
  return out
}

/** Prints p50 of each step since the send, and of the gap from the step before it (per message, where both were marked). */
function printHopBreakdown(samples: ChatSample[], sender: HopMark[], receiver: HopMark[]): void {
  if (sender.length === 0 && receiver.length === 0) return
  const times = hopTimes(samples, sender, receiver)
  out(`    where the hop goes (OUTPOST_HOP_TRACE; p50 per message: since send_msg, and since the step before)`)
  let prev: (number | undefined)[] | undefined
  for (const step of HOP_STEPS) {
    const at = times.get(step)!
    const seen = at.filter((v): v is number => v !== undefined)
    if (seen.length === 0) continue
    // The receiver's first step follows the sender's request, not its end of run.
    if (step === 'peer.request') prev = times.get('http.sent')
    const gaps = prev ? at.flatMap((v, i) => (v !== undefined && prev![i] !== undefined ? [v - prev![i]!] : [])) : []
    const gap = gaps.length ? `${summarize(gaps).p50.toFixed(1)} ms` : ''
    const node = (SENDER_STEPS as readonly string[]).includes(step) ? 'camp' : 'town'
    out(`      ${`${node} ${step}`.padEnd(30)}${`${summarize(seen).p50.toFixed(1)} ms`.padStart(10)}${gap.padStart(12)}${seen.length < samples.length ? `   (in ${seen.length} of ${samples.length})` : ''}`)
    prev = at
  }
  const woken = new Map<string, number>()
  for (const sample of samples) {
    const m = sender.find((x) => x.s === 'scheduler.due' && x.t >= sample.sentAt && x.t <= sample.sentAt + sample.incomingMs)
    woken.set(m?.d ?? 'none', (woken.get(m?.d ?? 'none') ?? 0) + 1)
  }
  out(`      what woke camp's transport: ${[...woken].map(([k, v]) => `${k} ${v}`).join(', ')}`)
}

/** Prints the figures; returns the cross-node latency, the plain-LAN figure other links are held against. */
export async function benchLan(sameNode: Summary | undefined, messages: number, cleanups: Array<() => Promise<void>>): Promise<Summary> {
  const traceDir = mkdtempSync(join(tmpdir(), 'op-bench-hop-'))
  const campTrace = join(traceDir, 'camp.jsonl')
  const townTrace = join(traceDir, 'town.jsonl')
  const camp = await startNode({ domain: 'camp.test', env: { ...LIMITS, OUTPOST_HOP_TRACE: campTrace } })
  cleanups.push(() => camp.destroy())
  const town = await startNode({ domain: 'town.test', env: { ...LIMITS, OUTPOST_HOP_TRACE: townTrace } })
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
  const loadBefore = load()
  const samples = await chatLatency(pair, join(nodePaths(town.data).mail, 'town.test', 'bob', 'Maildir', 'new'), messages)
  const loadAfter = load()
  await pair.close()
  const cross = summarize(samples.map((s) => s.incomingMs))
  const stored = summarize(samples.map((s) => s.storedMs).filter((v): v is number => v !== undefined))
  out(`  Delta Chat send → IncomingMsg across two nodes over the HTTP transport (${samples.length} messages)`)
  out(`    p50 ${ms(cross.p50)}, p99 ${ms(cross.p99)}; in town's Maildir after p50 ${ms(stored.p50)}`)
  if (sameNode) out(`    against the same clients on one node (part a): p50 ${ms(sameNode.p50)}, p99 ${ms(sameNode.p99)}; ratio p50 ${ratio(cross.p50, sameNode.p50)}, p99 ${ratio(cross.p99, sameNode.p99)} (target p50 ≤ 1.30)`)
  out(`    load average (1, 5, 15 min) before ${loadBefore}, after ${loadAfter}`)
  printHopBreakdown(samples, readTrace(campTrace), readTrace(townTrace))

  // Throughput: queue mail while camp's transport is off, then time one run.
  const list = await camp.cli(['transport', 'list'])
  const id = /^(\d+)\t/m.exec(list.stdout)?.[1]
  await camp.cli(['transport', 'remove', id!])
  const N = Number(process.env.BENCH_HTTP_MESSAGES ?? 1000)
  if (N === 0) return cross
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
