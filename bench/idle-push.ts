// IDLE push with the outpost_push Dovecot plugin beside stock Dovecot, in the
// same run: two nodes on loopback, one started with OUTPOST_DOVECOT_PUSH=stock.
// - latency: SMTP 250 → IMAP IDLE EXISTS, one message at a time (plain
//   clients), and Delta Chat send → IncomingMsg, on each node;
// - loss: many messages at seeded random gaps to a client in IDLE on the
//   plugin's node, each of which must be pushed within a bound.
//
// Run alone:
//   node --import tsx bench/idle-push.ts                       # latency, and a 200-message loss run
//   BENCH_PUSH_LOSS=1000 BENCH_PUSH_MAX_GAP_MS=3000 node --import tsx bench/idle-push.ts --loss-only
//                                                              # the 1,000 messages at 0-3 s (about 25 min)
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNode, type TestNode } from '../test/helpers/node.js'
import { nodePaths } from '../server/base/paths.js'
import { IdleWatcher, idleLatency, submitter, type SubmissionTarget } from './submission-to-idle.js'
import { chatLatency, chatPair } from './deltachat-latency.js'
import { ms, ratio, summarize } from './percentiles.js'
import { seededRandom } from '../test/helpers/seeded-random.js'

const DOMAIN = 'camp.test'
const UNLIMITED = { OUTPOST_LIMITS_SEND_PER_MINUTE: '1000000', OUTPOST_LIMITS_SEND_BURST: '1000000' }
/** A push later than this counts as lost: four times stock Dovecot's own wait. */
export const PUSH_BOUND_MS = 2000

type Out = (line?: string) => void


async function pushNode(push: 'auto' | 'stock', cleanups: Array<() => Promise<void>>): Promise<TestNode> {
  const node = await startNode({ domain: DOMAIN, env: { ...UNLIMITED, OUTPOST_DOVECOT_PUSH: push } })
  cleanups.push(() => node.destroy())
  return node
}

const maildirNew = (node: TestNode, local: string) => join(nodePaths(node.data).mail, DOMAIN, local, 'Maildir', 'new')

export interface LossResult {
  messages: number
  missed: number
  pushMs: ReturnType<typeof summarize>
}

/** `messages` messages at random gaps in [0, maxGapMs) through SMTP; counts those not pushed within PUSH_BOUND_MS. */
export async function pushLoss(node: TestNode, messages: number, maxGapMs: number, seed = 15): Promise<LossResult> {
  const [sender, reader] = [await node.addAccount(`loss-s${seed}`), await node.addAccount(`loss-r${seed}`)]
  const target: SubmissionTarget = { label: 'Outpost', port: node.ports.submission, auth: { user: sender.address, pass: sender.password } }
  const watcher = await IdleWatcher.open(node.ports.imap, reader)
  const smtp = submitter(target)
  const gap = seededRandom(seed)
  const pushes: Array<Promise<number | undefined>> = []
  try {
    for (let i = 0; i < messages; i++) {
      await new Promise((r) => setTimeout(r, Math.floor(gap() * maxGapMs)))
      const before = watcher.exists
      await smtp.sendMail({ from: sender.address, to: reader.address, subject: `[...]`, text: `loss run ${i + 1}\n` })
      const t250 = performance.now()
      // This message makes the count before + 1 at the latest (earlier ones may still be on their way).
      pushes.push(watcher.untilCount(before + 1, PUSH_BOUND_MS).then((at) => Math.max(0, at - t250), () => undefined))
    }
    const times = await Promise.all(pushes)
    const pushed = times.filter((t): t is number => t !== undefined)
    return { messages, missed: times.length - pushed.length, pushMs: summarize(pushed) }
  } finally {
    smtp.close()
    await watcher.close()
  }
}

export async function benchIdlePush(out: Out, cleanups: Array<() => Promise<void>>, o: { messages: number; chatMessages: number; lossMessages: number; lossMaxGapMs: number }): Promise<void> {
  const plugin = await pushNode('auto', cleanups)
  const stock = await pushNode('stock', cleanups)
  const using = /IDLE push: [^\n]*/.exec(plugin.output())?.[0] ?? 'IDLE push: (not logged)'
  out(`  node 1: ${using}`)
  out(`  node 2: ${/IDLE push: [^\n]*/.exec(stock.output())?.[0] ?? '(not logged)'}`)
  if (!using.includes('outpost_push')) out('  NOTE: the plugin is not built for this Dovecot (server/dovecot/push-plugin/build.sh); both columns are stock.')
  const row = (label: string, a: string, b: string, r: string) => out(`  ${label.padEnd(54)}${a.padEnd(13)}${b.padEnd(13)}${r}`)
  row('', 'plugin', 'stock', 'plugin/stock')

  const plain = async (node: TestNode) => {
    const [s, r] = [await node.addAccount('push-s'), await node.addAccount('push-r')]
    const watcher = await IdleWatcher.open(node.ports.imap, r, maildirNew(node, 'push-r'))
    try {
      return await idleLatency({ label: 'Outpost', port: node.ports.submission, auth: { user: s.address, pass: s.password } }, s.address, r.address, watcher, o.messages)
    } finally {
      await watcher.close()
    }
  }
  const pl = await plain(plugin)
  const st = await plain(stock)
  const p = summarize(pl.map((s) => s.pushMs))
  const q = summarize(st.map((s) => s.pushMs))
  out(`  SMTP 250 → IMAP IDLE EXISTS, ${o.messages} messages one after another`)
  row('p50', ms(p.p50), ms(q.p50), ratio(p.p50, q.p50))
  row('p99', ms(p.p99), ms(q.p99), ratio(p.p99, q.p99))
  const fromFile = (samples: typeof pl) => summarize(samples.filter((s) => s.storedMs !== undefined).map((s) => s.pushMs - s.storedMs!))
  const pf = fromFile(pl)
  const qf = fromFile(st)
  row('  file in Maildir → EXISTS (p50)', ms(pf.p50), ms(qf.p50), ratio(pf.p50, qf.p50))

  if (o.chatMessages > 0) {
    const chat = async (node: TestNode, tag: string) => {
      const [a, b] = [await node.addAccount(`${tag}-a`), await node.addAccount(`${tag}-b`)]
      const pair = await chatPair(tag, await node.dclogin(a.address), await node.dclogin(b.address))
      cleanups.push(() => pair.close())
      try {
        return await chatLatency(pair, maildirNew(node, `${tag}-b`), o.chatMessages)
      } finally {
        await pair.close()
        cleanups.pop()
      }
    }
    const pc = summarize((await chat(plugin, 'dcp')).map((s) => s.incomingMs))
    const sc = summarize((await chat(stock, 'dcs')).map((s) => s.incomingMs))
    out(`  Delta Chat send → IncomingMsg, ${o.chatMessages} messages one after another`)
    row('p50   (goal < 150 ms)', ms(pc.p50), ms(sc.p50), ratio(pc.p50, sc.p50))
    row('p99   (goal < 300 ms)', ms(pc.p99), ms(sc.p99), ratio(pc.p99, sc.p99))
  }

  if (o.lossMessages > 0) {
    const loss = await pushLoss(plugin, o.lossMessages, o.lossMaxGapMs)
    out(`  push loss, plugin: ${loss.messages} messages at random gaps of 0-${o.lossMaxGapMs} ms, each pushed within ${PUSH_BOUND_MS} ms or missed`)
    out(`    missed ${loss.missed} of ${loss.messages} (target 0); 250 → EXISTS p50 ${ms(loss.pushMs.p50)}, p99 ${ms(loss.pushMs.p99)}, max ${ms(loss.pushMs.max)}`)
  }
}

// Run alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cleanups: Array<() => Promise<void>> = []
  const cleanUp = async () => {
    while (cleanups.length) await cleanups.pop()!().catch((err: Error) => process.stderr.write(`clean-up: ${err.message}\n`))
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanUp().finally(() => process.exit(130)))
  const out: Out = (line = '') => process.stdout.write(line + '\n')
  const lossOnly = process.argv.includes('--loss-only')
  try {
    out('IDLE push: the outpost_push plugin against stock Dovecot')
    const lossMessages = Number(process.env.BENCH_PUSH_LOSS ?? 200)
    const lossMaxGapMs = Number(process.env.BENCH_PUSH_MAX_GAP_MS ?? 300)
    if (lossOnly) {
      const node = await pushNode('auto', cleanups)
      out(`  ${/IDLE push: [^\n]*/.exec(node.output())?.[0] ?? ''}`)
      const loss = await pushLoss(node, lossMessages, lossMaxGapMs)
      out(`  push loss: missed ${loss.missed} of ${loss.messages} (gaps 0-${lossMaxGapMs} ms, bound ${PUSH_BOUND_MS} ms); 250 → EXISTS p50 ${ms(loss.pushMs.p50)}, p99 ${ms(loss.pushMs.p99)}, max ${ms(loss.pushMs.max)}`)
      if (loss.missed > 0) process.exitCode = 1
    } else {
      await benchIdlePush(out, cleanups, { messages: Number(process.env.BENCH_MESSAGES ?? 60), chatMessages: Number(process.env.BENCH_PUSH_CHAT ?? 30), lossMessages, lossMaxGapMs })
    }
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  } finally {
    await cleanUp()
  }
}
