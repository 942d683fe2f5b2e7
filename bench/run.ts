// `npm run bench`: one Outpost node on loopback, measured against a private
// Debian Postfix that delivers into the same Dovecot (the chatmail stack), in
// the same run. See bench/README.md for what each figure means.
import { existsSync, readFileSync } from 'node:fs'
import { mkdtempSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { ACCEPT_STEPS, loopDelayOf, stepDurations } from '../server/haraka/lib/accept-trace.js'
import { cmdline, processTree } from '../test/helpers/procs.js'
import { startNode, type TestNode } from '../test/helpers/node.js'
import { freePort } from '../test/helpers/ports.js'
import { nodePaths } from '../server/base/paths.js'
import { canRunPostfix, startPostfix, type PostfixBaseline } from './postfix.js'
import { IdleWatcher, idleLatency, throughput, type LatencySample, type SubmissionTarget, type ThroughputResult } from './submission-to-idle.js'
import { chatLatency, chatPair, type ChatSample } from './deltachat-latency.js'
import { mb, memoryByRole, memoryOf, treeOf, type TreeMemory } from './memory.js'
import { cpuByRole, cpuSnapshot, machineBusySeconds, perMessage, processCpu } from './cpu.js'
import { ms, ratio, summarize } from './percentiles.js'
import { benchBundles } from './bundle.js'
import { benchLan } from './lan.js'
import { benchWebSize } from './web-size.js'
import { benchScale } from './scale.js'
import { benchIdlePush } from './idle-push.js'
import { benchImport } from './import.js'
import { benchPhonesBothWays, phonesOptionsFromEnv } from './phones.js'
import { benchLora } from './lora.js'
import { benchYggdrasil } from './yggdrasil.js'
import type { Summary } from './percentiles.js'

let sameNodeChat: Summary | undefined

const DOMAIN = 'camp.test'
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100)
/** Part e's Delta Chat messages across two nodes (and the one-box figure it is compared with in BENCH_ONLY=e). */
const E_MESSAGES = Math.min(MESSAGES, Number(process.env.BENCH_E_MESSAGES ?? 30))
const SENDERS = 20
const TOTAL = Number(process.env.BENCH_TOTAL ?? 400)
const MEMORY_TARGET_MB = 150
// BENCH_ONLY=b runs part b (and c, which is measured on the same node) and nothing else;
// BENCH_ONLY=e runs part a on Outpost alone (the one-box figure) and then part e.
const ONLY = process.env.BENCH_ONLY
const part = (name: string) => ONLY === undefined || ONLY === name
// The node writes where each accepted message's time went (server/haraka/lib/accept-trace.ts).
const ACCEPT_TRACE = join(mkdtempSync(join(tmpdir(), 'op-bench-trace-')), 'accept.jsonl')
const traceLines = (): string[] => (existsSync(ACCEPT_TRACE) ? readFileSync(ACCEPT_TRACE, 'utf8').split('\n').filter((l) => l.trim()) : [])

const STEP_LABELS: Record<(typeof ACCEPT_STEPS)[number], string> = {
  mailDone: 'mail hooks (sender policy)',
  rcpt: 'mail hooks → RCPT TO arrives',
  rcptDone: 'rcpt hooks (recipient policy)',
  data: 'rcpt hooks → DATA arrives',
  body: 'DATA → body received and parsed',
  dataPost: 'data_post hooks (DKIM, author check)',
  queueHook: 'data_post → queue hook (Haraka)',
  read: 'readMessage',
  routed: 'disk floor, routing, outbox',
  ledgerRead: 'ledger read (earlier rows for the key)',
  pending: "'pending' rows committed",
  lmtp: 'LMTP round trip (Dovecot stores)',
  delivered: "'delivered' rows written",
  answered: 'verdict → next() (250 handed to Haraka)',
}

/** CPU seconds (user + system) a process has used so far; NaN when there is none. */
function cpuSeconds(pid: number | undefined): number {
  return (pid === undefined ? undefined : processCpu(pid))?.own ?? Number.NaN
}

/**
 * Runs one throughput run and reads the CPU spent meanwhile: per kind of
 * process under `roots` (the servers and the Dovecot they deliver into),
 * by this process (the SMTP and IMAP clients) and by the whole machine,
 * whose excess over the two is other work.
 */
async function cpuDuring(roots: Array<number | undefined>, run: (onStart: () => void) => Promise<ThroughputResult>) {
  let before = cpuSnapshot(roots)
  let client0 = process.cpuUsage()
  let machine0 = machineBusySeconds()
  const result = await run(() => {
    before = cpuSnapshot(roots)
    client0 = process.cpuUsage()
    machine0 = machineBusySeconds()
  })
  const client = process.cpuUsage(client0)
  const machineSeconds = machineBusySeconds() - machine0
  const byRole = cpuByRole(before, cpuSnapshot(roots))
  return { result, byRole, clientSeconds: (client.user + client.system) / 1e6, machineSeconds }
}

/** Mean and p50 of each step of the accept path, from the node's trace lines. */
function printAcceptBreakdown(title: string, lines: string[]): void {
  if (lines.length === 0) return
  out(`  ${title}, ${lines.length} messages (mean / p50 per message, server side):`)
  const durations = stepDurations(lines)
  let total = 0
  for (const step of ACCEPT_STEPS) {
    const d = durations.get(step) ?? []
    if (d.length === 0) continue
    const mean = d.reduce((a, b) => a + b, 0) / d.length
    total += mean
    out(`    ${pad(STEP_LABELS[step], 52)}${pad(`${mean.toFixed(2)} ms`, 12)}${summarize(d).p50.toFixed(2)} ms`)
  }
  out(`    ${pad('sum (MAIL FROM → 250 handed to Haraka)', 52)}${total.toFixed(2)} ms`)
  const loop = loopDelayOf(lines)
  if (loop) out(`    Haraka's event-loop delay meanwhile: mean ${loop.mean.toFixed(2)} ms, p99 ${loop.p99.toFixed(2)} ms (median over the trace's writes), max ${loop.max.toFixed(2)} ms`)
}

const cleanups: Array<() => Promise<void>> = []
async function cleanUp(): Promise<void> {
  while (cleanups.length) {
    const step = cleanups.pop()!
    await step().catch((err: Error) => process.stderr.write(`bench clean-up: ${err.message}\n`))
  }
}
// A stray rejection must still stop the node and Postfix rather than orphan them.
process.on('unhandledRejection', (err) => {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? String(err)}\n`)
  void cleanUp().finally(() => process.exit(1))
})
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`\n${sig}: stopping everything the bench started…\n`)
    void cleanUp().finally(() => process.exit(130))
  })
}

const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec))
const out = (line = '') => process.stdout.write(line + '\n')
const pad = (s: string, n: number) => s.padEnd(n)
const row = (label: string, ours: string, base: string, r: string) => out(`  ${pad(label, 54)}${pad(ours, 13)}${pad(base, 13)}${r}`)

function dovecotMasterPid(node: TestNode): number | undefined {
  try {
    return Number.parseInt(readFileSync(join(nodePaths(node.data).dovecotBase, 'master.pid'), 'utf8'), 10)
  } catch {
    return undefined
  }
}

function p50Of(samples: Array<number | undefined>): number {
  return summarize(samples.filter((v): v is number => v !== undefined)).p50
}

function p99Of(samples: Array<number | undefined>): number {
  return summarize(samples.filter((v): v is number => v !== undefined)).p99
}

/**
 * Part a's samples cut at the sender's 250 and at the file in the Maildir:
 * the p50 and p99 of each step, so a slow tail can be put down to the
 * submission, the storing, or the push and the client's fetch.
 */
function chatSteps(chat: ChatSample[]): Array<{ step: string, p50: number, p99: number }> {
  const steps: Array<[string, Array<number | undefined>]> = [
    ['send → MsgDelivered (encrypt + SMTP 250)', chat.map((s) => s.deliveredMs)],
    ['MsgDelivered → file in Maildir', chat.map((s) => (s.storedMs === undefined ? undefined : s.storedMs - s.deliveredMs))],
    ['file in Maildir → IncomingMsg (IDLE, fetch, decrypt)', chat.map((s) => (s.storedMs === undefined ? undefined : s.incomingMs - s.storedMs))],
  ]
  return steps.map(([step, v]) => ({ step, p50: p50Of(v), p99: p99Of(v) }))
}

/** The same account, with SMTP pointed at the baseline's port instead of Outpost's. */
function viaPostfix(uri: string, port: number): string {
  const u = new URL(uri)
  u.searchParams.set('sp', String(port))
  u.searchParams.set('ss', 'starttls')
  return u.toString()
}

let benchNode: TestNode | undefined

/** The node's own logs, for a failure a person can act on; the data dir is gone after clean-up. */
function nodeLogTail(): string {
  if (!benchNode) return ''
  const logs = ['dovecot.log', 'haraka.out.log'].map((f) => {
    try {
      return `--- ${f}\n` + readFileSync(join(nodePaths(benchNode!.data).log, f), 'utf8').split('\n').slice(-15).join('\n')
    } catch {
      return ''
    }
  })
  return logs.join('\n')
}

async function main(): Promise<void> {
  out(`Outpost bench: one node on 127.0.0.1, domain ${DOMAIN}`)
  // Rate limits would measure the limiter, not the mail path; Postfix has none here either.
  const node = await startNode({ domain: DOMAIN, env: { OUTPOST_LIMITS_SEND_PER_MINUTE: '1000000', OUTPOST_LIMITS_SEND_BURST: '1000000', OUTPOST_ACCEPT_TRACE: ACCEPT_TRACE } })
  benchNode = node
  cleanups.push(() => node.destroy())
  const paths = nodePaths(node.data)
  const maildirNew = (local: string) => join(paths.mail, DOMAIN, local, 'Maildir', 'new')

  // c. first, before any client has connected.
  await sleep(3000)
  const dovecotPid = dovecotMasterPid(node)
  const outpostPids = treeOf([node.pid(), dovecotPid])
  const outpostIdle = memoryOf(outpostPids)
  const dovecotIdle = memoryOf(treeOf([dovecotPid]))
  const outpostRoles = memoryByRole(outpostPids)

  const noPostfix = canRunPostfix()
  let pf: PostfixBaseline | undefined
  let postfixIdle: TreeMemory | undefined
  if (noPostfix) {
    out(`Baseline skipped: ${noPostfix}.`)
  } else {
    pf = await startPostfix({
      domain: DOMAIN,
      port: await freePort(),
      lmtpSocket: paths.lmtpSocket,
      authSocket: join(paths.dovecotBase, 'auth-client'),
      tlsCert: paths.tlsCert,
      tlsKey: paths.tlsKey,
    })
    const stopPostfix = pf.stop.bind(pf)
    cleanups.push(stopPostfix)
    await sleep(2000)
    postfixIdle = memoryOf(treeOf([pf.masterPid()]))
  }
  out(`Baseline: ${pf ? `Debian Postfix (private instance on 127.0.0.1:${pf.port}) delivering over LMTP into the node's own Dovecot` : 'none'}`)
  if (pf && !pf.auth) out('NOTE: the baseline takes mail WITHOUT SMTP AUTH (Dovecot offers no auth-client socket), which favours Postfix.')
  out('Both sides: STARTTLS with the node\'s certificate' + (pf?.auth ? ', AUTH PLAIN checked by the same Dovecot.' : '.'))
  out('Outpost\'s per-account send limits are lifted for the run.')
  out()

  const [sender, watcherLogin, alice, bob, carol, dave] = await Promise.all(['sender', 'watcher', 'alice', 'bob', 'carol', 'dave'].map((l) => node.addAccount(l)))
  const outpostSmtp: SubmissionTarget = { label: 'Outpost', port: node.ports.submission, auth: { user: sender!.address, pass: sender!.password } }
  const postfixSmtp: SubmissionTarget | undefined = pf && { label: 'Postfix', port: pf.port, ...(pf.auth ? { auth: { user: sender!.address, pass: sender!.password } } : {}) }

  // b. plain SMTP and IMAP clients.
  const watcher = await IdleWatcher.open(node.ports.imap, watcherLogin!, maildirNew('watcher'))
  cleanups.push(() => watcher.close())
  const ourLatency = await idleLatency(outpostSmtp, sender!.address, watcherLogin!.address, watcher, MESSAGES)
  await sleep(200)
  const sequentialTrace = traceLines()
  const baseLatency: LatencySample[] = postfixSmtp ? await idleLatency(postfixSmtp, sender!.address, watcherLogin!.address, watcher, MESSAGES) : []
  const haraka = processTree(node.pid()!).find((p) => /bin\/haraka/.test(cmdline(p)))
  const harakaCpu0 = cpuSeconds(haraka)
  const ourCpu = await cpuDuring([node.pid(), dovecotPid], (onStart) => throughput(outpostSmtp, sender!.address, watcherLogin!.address, watcher, SENDERS, TOTAL, onStart))
  const ourRate = ourCpu.result
  // Includes the one message per connection sent before the clock starts.
  const harakaCpuPerMessage = ((cpuSeconds(haraka) - harakaCpu0) * 1000) / (ourRate.accepted + SENDERS)
  await sleep(200)
  // The last TOTAL lines: the timed messages, without the one per connection sent before the clock starts.
  const concurrentTrace = traceLines().slice(sequentialTrace.length).slice(-TOTAL)
  const baseCpu = postfixSmtp ? await cpuDuring([pf?.masterPid(), dovecotPid], (onStart) => throughput(postfixSmtp, sender!.address, watcherLogin!.address, watcher, SENDERS, TOTAL, onStart)) : undefined
  const baseRate: ThroughputResult | undefined = baseCpu?.result
  await watcher.close()
  cleanups.pop()

  // a. real Delta Chat clients.
  let ourChat: ChatSample[] = []
  let baseChat: ChatSample[] = []
  if (part('a')) {
    const ourPair = await chatPair('outpost', await node.dclogin(alice!.address), await node.dclogin(bob!.address))
    cleanups.push(() => ourPair.close())
    ourChat = await chatLatency(ourPair, maildirNew('bob'), MESSAGES)
    await ourPair.close()
    cleanups.pop()
    // Delta Chat logs in to SMTP with the account's password; a baseline without AUTH cannot serve it.
    if (pf?.auth) {
      const basePair = await chatPair('postfix', viaPostfix(await node.dclogin(carol!.address), pf.port), viaPostfix(await node.dclogin(dave!.address), pf.port))
      cleanups.push(() => basePair.close())
      baseChat = await chatLatency(basePair, maildirNew('dave'), MESSAGES)
      await basePair.close()
      cleanups.pop()
    }
  }

  // The phones have logged out; give Dovecot's IMAP processes time to go.
  await sleep(3000)
  const afterPids = treeOf([node.pid(), dovecotPid])
  const outpostAfter = memoryOf(afterPids)
  const afterRoles = memoryByRole(afterPids)

  // Report.
  row('', 'Outpost', 'Postfix', 'Outpost/Postfix')
  out()
  if (part('a')) out(`a. Delta Chat send → IncomingMsg, ${MESSAGES} messages one after another, after SecureJoin`)
  else out('a. skipped (BENCH_ONLY)')
  const oc = summarize(ourChat.map((s) => s.incomingMs))
  sameNodeChat = oc
  const bc = summarize(baseChat.map((s) => s.incomingMs))
  row('p50', ms(oc.p50), ms(bc.p50), ratio(oc.p50, bc.p50))
  row('p99', ms(oc.p99), ms(bc.p99), ratio(oc.p99, bc.p99))
  out('  where the time goes (p50 of each step):')
  const deliveredO = p50Of(ourChat.map((s) => s.deliveredMs))
  const deliveredB = p50Of(baseChat.map((s) => s.deliveredMs))
  row('  send → MsgDelivered (encrypt + SMTP 250)', ms(deliveredO), ms(deliveredB), ratio(deliveredO, deliveredB))
  const storedO = p50Of(ourChat.map((s) => s.storedMs))
  const storedB = p50Of(baseChat.map((s) => s.storedMs))
  row('  send → file in recipient Maildir', ms(storedO), ms(storedB), ratio(storedO, storedB))
  const pushO = p50Of(ourChat.map((s) => (s.storedMs === undefined ? undefined : s.incomingMs - s.storedMs)))
  const pushB = p50Of(baseChat.map((s) => (s.storedMs === undefined ? undefined : s.incomingMs - s.storedMs)))
  row('  Maildir → IncomingMsg (IDLE, fetch, decrypt)', ms(pushO), ms(pushB), ratio(pushO, pushB))
  out('  the tail (p99 of each step):')
  const tailO = chatSteps(ourChat)
  const tailB = chatSteps(baseChat)
  for (const [i, s] of tailO.entries()) row(`  ${s.step}`, ms(s.p99), ms(tailB[i]!.p99), ratio(s.p99, tailB[i]!.p99))
  out()

  out(`b. Plain clients: SMTP 250 after DATA → IMAP IDLE EXISTS, ${MESSAGES} messages one after another`)
  const ol = summarize(ourLatency.map((s) => s.pushMs))
  const bl = summarize(baseLatency.map((s) => s.pushMs))
  row('p50   (target ratio ≤ 1.0)', ms(ol.p50), ms(bl.p50), ratio(ol.p50, bl.p50))
  row('p99', ms(ol.p99), ms(bl.p99), ratio(ol.p99, bl.p99))
  const so = p50Of(ourLatency.map((s) => s.submitMs))
  const sb = p50Of(baseLatency.map((s) => s.submitMs))
  row('  MAIL FROM → 250 after DATA (p50)', ms(so), ms(sb), ratio(so, sb))
  const lo = p50Of(ourLatency.map((s) => s.storedMs))
  const lb = p50Of(baseLatency.map((s) => s.storedMs))
  row('  250 → file in Maildir (p50; <0: before 250)', ms(lo), ms(lb), '')
  const io = p50Of(ourLatency.map((s) => (s.storedMs === undefined ? undefined : s.pushMs - s.storedMs)))
  const ib = p50Of(baseLatency.map((s) => (s.storedMs === undefined ? undefined : s.pushMs - s.storedMs)))
  row('  file in Maildir → EXISTS (p50)', ms(io), ms(ib), ratio(io, ib))
  const rate = (r: ThroughputResult | undefined) => (r ? `${r.perSecond.toFixed(1)}/s` : 'n/a')
  row(`accepted msg/s, ${SENDERS} senders, ${TOTAL} msgs (target ≥ 1.0)`, rate(ourRate), rate(baseRate), ratio(ourRate.perSecond, baseRate?.perSecond ?? Number.NaN))
  const drained = (r: ThroughputResult | undefined) => (r?.deliveredSeconds !== undefined ? `${(r.accepted / r.deliveredSeconds).toFixed(1)}/s` : 'n/a')
  row('  …all of them in the INBOX (delivered msg/s)', drained(ourRate), drained(baseRate), '')
  for (const [label, r] of [['Outpost', ourRate], ['Postfix', baseRate]] as const) {
    if (r && r.rejected > 0) out(`  ${label} refused ${r.rejected} of ${r.accepted + r.rejected} messages, first: ${r.firstError}`)
  }
  out('  where Outpost\'s accept time goes:')
  printAcceptBreakdown('one message at a time', sequentialTrace)
  printAcceptBreakdown(`${SENDERS} senders at once`, concurrentTrace)
  out(`    Haraka's CPU per message in that run: ${harakaCpuPerMessage.toFixed(1)} ms (one process, one core at most: ${(1000 / harakaCpuPerMessage).toFixed(0)} msg/s)`)
  out(`  CPU per message in the ${SENDERS}-sender runs, ms (user + system from /proc, from the clock's start until every message is in the INBOX):`)
  for (const [label, c] of [['Outpost', ourCpu], ['Postfix', baseCpu]] as const) {
    if (!c) continue
    const n = c.result.accepted
    const servers = perMessage(c.byRole, n)
    out(`    ${label}: ${servers.total.toFixed(2)} in the servers (${servers.line}); the bench's clients ${((c.clientSeconds * 1000) / n).toFixed(2)}; the whole machine ${((c.machineSeconds * 1000) / n).toFixed(2)}`)
  }
  out()

  out('c. Resident memory at idle, summed over processes from /proc (RSS; PSS in brackets)')
  out(`  Outpost node, all ${outpostIdle.processes} processes: ${mb(outpostIdle.rssBytes)} [${mb(outpostIdle.pssBytes)}], target ${MEMORY_TARGET_MB} MB, ratio ${ratio(outpostIdle.rssBytes / 2 ** 20, MEMORY_TARGET_MB)}`)
  out(`    ${outpostRoles}`)
  out(`    of which Dovecot (${dovecotIdle.processes} processes): ${mb(dovecotIdle.rssBytes)} [${mb(dovecotIdle.pssBytes)}]`)
  if (postfixIdle) {
    const stack = postfixIdle.rssBytes + dovecotIdle.rssBytes
    out(`  chatmail-like stack, Postfix (${postfixIdle.processes} processes) + the same Dovecot: ${mb(stack)} [${mb(postfixIdle.pssBytes + dovecotIdle.pssBytes)}]; Outpost/that ${ratio(outpostIdle.rssBytes, stack)}`)
  }
  out(`  Outpost after the run, clients gone: ${mb(outpostAfter.rssBytes)} [${mb(outpostAfter.pssBytes)}]`)
  out(`    ${afterRoles}`)
}

/**
 * BENCH_ONLY=e: part a on Outpost alone (no Postfix, no part b), for the
 * one-box figure with the same real clients, then part e against it.
 */
async function lanOnly(): Promise<void> {
  out(`Outpost bench, BENCH_ONLY=e: part a on one node (${DOMAIN}), then part e on two`)
  const node = await startNode({ domain: DOMAIN, env: { OUTPOST_LIMITS_SEND_PER_MINUTE: '1000000', OUTPOST_LIMITS_SEND_BURST: '1000000' } })
  benchNode = node
  cleanups.push(() => node.destroy())
  const [alice, bob] = await Promise.all(['alice', 'bob'].map((l) => node.addAccount(l)))
  const pair = await chatPair('outpost', await node.dclogin(alice!.address), await node.dclogin(bob!.address))
  cleanups.push(() => pair.close())
  const n = E_MESSAGES
  const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ')
  const chat = await chatLatency(pair, join(nodePaths(node.data).mail, DOMAIN, 'bob', 'Maildir', 'new'), n)
  const loadAfter = loadavg().map((l) => l.toFixed(2)).join(' ')
  await pair.close()
  cleanups.pop()
  await node.destroy()
  cleanups.pop()
  benchNode = undefined
  const oc = summarize(chat.map((s) => s.incomingMs))
  out(`a. Delta Chat send → IncomingMsg on one node, ${chat.length} messages: p50 ${ms(oc.p50)}, p99 ${ms(oc.p99)}; in the Maildir after p50 ${ms(p50Of(chat.map((s) => s.storedMs)))}`)
  for (const s of chatSteps(chat)) out(`  ${s.step}: p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`)
  out(`  load average (1, 5, 15 min) before ${loadBefore}, after ${loadAfter}`)
  out()
  out('e. Transports (two nodes on loopback)')
  await benchLan(oc, n, cleanups)
}

try {
  if (ONLY === 'e') await lanOnly()
  else await main()
  if (ONLY !== undefined) {
    out()
    out(`BENCH_ONLY=${ONLY}: the other parts are skipped.`)
  } else {
  // The bundle part needs no running node: seal and open in this process.
  // A node of its own, so that "idle" means no client has ever connected.
  out()
  const phonesOpts = phonesOptionsFromEnv()
  out(`c2. A group's worth of memory: a fresh node at idle, after a burst, with ${phonesOpts.phones} phones in IMAP IDLE (RSS [PSS])`)
  await benchPhonesBothWays(phonesOpts, cleanups, out, DOMAIN)
  out()
  out('d. Bundles (export and import of mail between nodes)')
  await benchBundles(Number(process.env.BENCH_BUNDLE_MESSAGES ?? 10000))
  out()
  out('e. Transports (two nodes on loopback)')
  const lanCross = await benchLan(sameNodeChat, E_MESSAGES, cleanups)
  await benchYggdrasil(out, lanCross, E_MESSAGES, cleanups)
  out()
  out('f. Web admin download (dist/web, gzip -9)')
  benchWebSize(out)
  out()
  out('g. Scale (500 accounts, 50 peers, 1k / 10k / 100k messages waiting)')
  await benchScale()
  out('h. IDLE push: the outpost_push Dovecot plugin against stock Dovecot (two nodes)')
  await benchIdlePush(out, cleanups, {
    messages: MESSAGES,
    chatMessages: E_MESSAGES,
    lossMessages: Number(process.env.BENCH_PUSH_LOSS ?? 1000),
    lossMaxGapMs: Number(process.env.BENCH_PUSH_MAX_GAP_MS ?? 300),
  })
  out()
  out('i. LoRa link (simulated channel, airtime by the Semtech formula)')
  await benchLora(out)
  out()
  out('j. Import: a bundle of local mail into Dovecot, against a session per message and against Dovecot alone')
  await benchImport({
    messages: Number(process.env.BENCH_IMPORT_MESSAGES ?? 10_000),
    runs: Number(process.env.BENCH_IMPORT_RUNS ?? 3),
    step: Number(process.env.BENCH_IMPORT_STEP ?? 5_000),
    grow: Number(process.env.BENCH_IMPORT_GROW ?? 50_000),
  })
  }
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n${nodeLogTail()}\n`)
  process.exitCode = 1
} finally {
  await cleanUp()
}
