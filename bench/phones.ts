// A group's worth of memory: the node at idle, just after a burst of
// deliveries, and with 30 phones connected. A phone is what Delta Chat keeps
// open on a box: one IMAP connection (STARTTLS, AUTH, SELECT INBOX, IDLE),
// plus SMTP sessions that come and go when it sends. Every figure is RSS and
// PSS per kind of process, against the targets of 150 MB at idle and 200 MB
// with 30 phones.
//
// Each figure comes twice, from two fresh nodes one after the other: Haraka
// as a supervised child, and Haraka inside `outpost start` ([smtp] haraka =
// "in-process"), with the in-process figure as a ratio of the child's.
//
// `node --import tsx bench/phones.ts` runs this part alone (after a build);
// `npm run bench` runs it as its part c.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import nodemailer from 'nodemailer'
import { startNode, type TestNode } from '../test/helpers/node.js'
import { waitFor } from '../test/helpers/wait.js'
import { nodePaths } from '../server/base/paths.js'
import { chatSizedBody, IdleWatcher, submitter, type Login } from './submission-to-idle.js'
import { processCpu } from './cpu.js'
import { mb, memoryOf, memoryPerRole, treeOf, type RoleMemory, type TreeMemory } from './memory.js'
import { HARAKA_HOSTING, type HarakaHosting } from '../server/config/schema.js'

export const IDLE_TARGET_MB = 150
export const PHONES_TARGET_MB = 200

/**
 * The same measurement before the memory settings (Dovecot's process defaults
 * and V8's compilers), on the bench machine, 2026-12-07: a reference, not a
 * baseline of this run. Process defaults cannot be switched back without a
 * second code path in the node.
 */
const BEFORE = { idle: { rss: 191.2, pss: 83.5 }, burst: { rss: 317.3, pss: 128.2 }, phones: { rss: 763.0, pss: 194.0 } }

export interface PhonesOptions {
  /** Phones with an IMAP IDLE connection each (default 30). */
  phones: number
  /** Messages in the burst before the phones connect, over 20 SMTP connections at once. */
  burst: number
  /** How long the phones sit in IDLE while SMTP sessions come and go. */
  seconds: number
  /** How long after it is ready the node counts as idle. */
  settleSeconds: number
}

export interface Snapshot {
  total: TreeMemory
  roles: RoleMemory[]
}

export interface PhonesResult {
  idle: Snapshot
  afterBurst: Snapshot
  /**
   * The phones in IDLE once the deliveries they caused are done: every
   * message pushed to its phone and no LMTP session open any more. LMTP
   * processes that Dovecot keeps after their session are counted. The
   * figure against the 200 MB target.
   */
  phones: Snapshot
  /** The same phones after Dovecot ended its idle LMTP processes: what a quiet group costs. */
  phonesQuiet: Snapshot
  /** The sample with the largest RSS sum while messages were being sent to the phones (LMTP mid-burst). */
  phonesPeak: Snapshot
  /** Seconds from the last message's push until no LMTP session was open, and until no LMTP process was left. */
  lmtpClosedSeconds: number
  lmtpGoneSeconds: number
  /** Messages sent to the phones while they idled, and how many of those no phone was pushed. */
  sentToPhones: number
  missedPushes: number
  /** How fast the burst was accepted (TLS and AUTH included), to see what a memory setting costs in CPU. */
  burstPerSecond: number
  /** From the first phone's connect to the last one's IDLE, all connecting at once (TLS, LOGIN, SELECT, IDLE). */
  loginSeconds: number
  /** CPU seconds outpost and Haraka spent from idle to the end of the phones' run (logins, burst, sessions). */
  cpuSeconds: number
  /** CPU seconds Dovecot's processes spent over the same time, ended ones included. */
  dovecotCpuSeconds: number
}

const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec))

/** Bound on the node closing its idle LMTP sessions (it does after 1 s). */
const LMTP_CLOSED_MS = 10_000
/**
 * Bound on Dovecot ending idle LMTP processes: its master counts the fewest
 * idle ones over each idle-kill interval (10 s here) and ends that many, so
 * one can stay up to two intervals.
 */
const LMTP_GONE_MS = 40_000

function dovecotMasterPid(node: TestNode): number | undefined {
  try {
    return Number.parseInt(readFileSync(join(nodePaths(node.data).dovecotBase, 'master.pid'), 'utf8'), 10)
  } catch {
    return undefined
  }
}

/** CPU time (user + system) the node's two Node processes have used, in seconds: what a V8 flag costs. */
function nodeCpuSeconds(node: TestNode): number {
  let seconds = 0
  for (const pid of treeOf([node.pid()])) {
    const c = processCpu(pid)
    if (c && ['outpost', 'haraka'].includes(c.role)) seconds += c.own
  }
  return seconds
}

/**
 * Open connections to the node's LMTP socket, from /proc/net/unix: every
 * connection Dovecot has accepted on it is listed under the socket's path
 * with state 03 (connected); the listening socket itself is 01.
 */
function lmtpConnections(node: TestNode): number {
  const path = nodePaths(node.data).lmtpSocket
  let n = 0
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    // Num RefCount Protocol Flags Type St Inode Path
    if (f[7] === path && f[5] === '03') n++
  }
  return n
}

function lmtpProcesses(node: TestNode): number {
  return snapshot(node).roles.find((r) => r.role === 'lmtp')?.processes ?? 0
}

/**
 * CPU time (user + system) of the node's Dovecot in seconds: its processes
 * alive now, plus the master's count for the children it has reaped
 * (cutime and cstime), so an LMTP or login process that has ended still
 * counts. What starting and keeping Dovecot's processes costs.
 */
function dovecotCpuSeconds(node: TestNode): number {
  const master = dovecotMasterPid(node)
  if (master === undefined) return 0
  let seconds = 0
  for (const pid of treeOf([master])) {
    const c = processCpu(pid)
    if (c) seconds += c.own + (pid === master ? c.reaped : 0)
  }
  return seconds
}

function snapshot(node: TestNode): Snapshot {
  const pids = treeOf([node.pid(), dovecotMasterPid(node)])
  return { total: memoryOf(pids), roles: memoryPerRole(pids) }
}

/** Runs `f` over `items`, at most `n` at a time. */
async function inBatches<T, R>(items: T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = []
  for (let i = 0; i < items.length; i += n) out.push(...(await Promise.all(items.slice(i, i + n).map(f))))
  return out
}

function message(from: string, to: string, n: number) {
  return { from, to, subject: `phones ${n}`, text: chatSizedBody() }
}

/** Measures `node`, which must have just become ready and have no client yet. */
export async function benchPhones(node: TestNode, opts: PhonesOptions, cleanups: Array<() => Promise<void>>): Promise<PhonesResult> {
  // Idle is the node settled after its start: the readiness probe's IMAP
  // greeting starts a login process, which Dovecot ends after 10 quiet
  // seconds (idle_kill in server/dovecot/config.ts).
  await sleep(opts.settleSeconds * 1000)
  const idle = snapshot(node)
  const cpuAtIdle = nodeCpuSeconds(node)
  const dovecotCpuAtIdle = dovecotCpuSeconds(node)

  const sender = await node.addAccount('phonesender')
  const phones: Login[] = await inBatches(
    Array.from({ length: opts.phones }, (_, i) => `phone${i + 1}`),
    4,
    (l) => node.addAccount(l),
  )
  const auth = { user: sender.address, pass: sender.password }

  // A burst: 20 phones sending at once, as after a group's chat wakes up.
  const burstStart = performance.now()
  const burstSenders = Array.from({ length: 20 }, () => submitter({ label: 'burst', port: node.ports.submission, auth }))
  try {
    await Promise.all(
      burstSenders.map(async (t, s) => {
        for (let i = s; i < opts.burst; i += burstSenders.length) await t.sendMail(message(sender.address, phones[i % phones.length]!.address, i))
      }),
    )
  } finally {
    for (const t of burstSenders) t.close()
  }
  const burstPerSecond = opts.burst / ((performance.now() - burstStart) / 1000)
  await sleep(5000)
  const afterBurst = snapshot(node)
  // The phones' figures are about the phones, not about what the burst left:
  // its LMTP processes go once Dovecot's idle kill has ended them.
  await waitFor("the burst's LMTP processes to end", () => lmtpProcesses(node) === 0, { timeoutMs: LMTP_GONE_MS, explain: () => `${lmtpProcesses(node)} left` })

  // The phones connect all at once, as they do when the hotspot comes back,
  // and sit in IDLE. Each login is an Argon2id check in Dovecot's auth
  // workers, so this is what capping them costs.
  const loginStart = performance.now()
  const watchers = await Promise.all(phones.map((p) => IdleWatcher.open(node.ports.imap, p)))
  const loginSeconds = (performance.now() - loginStart) / 1000
  const closeAll = async () => {
    await Promise.all(watchers.map((w) => w.close().catch(() => undefined)))
  }
  cleanups.push(closeAll)
  const expected = watchers.map((w) => w.exists)

  // SMTP sessions come and go: each message is a connection of its own
  // (STARTTLS, AUTH, one message, QUIT), from three senders at a time.
  let peak = snapshot(node)
  let sent = 0
  const until = performance.now() + opts.seconds * 1000
  const senders = Array.from({ length: 3 }, async () => {
    while (performance.now() < until) {
      const to = sent++ % phones.length
      const t = nodemailer.createTransport({
        host: '127.0.0.1',
        port: node.ports.submission,
        secure: false,
        requireTLS: true,
        name: 'phone.localhost',
        auth,
        tls: { rejectUnauthorized: false },
      })
      try {
        await t.sendMail(message(sender.address, phones[to]!.address, sent))
        expected[to]!++
      } finally {
        t.close()
      }
      await sleep(300)
    }
  })
  const sampler = (async () => {
    while (performance.now() < until) {
      await sleep(1000)
      const s = snapshot(node)
      if (s.total.rssBytes > peak.total.rssBytes) peak = s
    }
  })()
  await Promise.all([...senders, sampler])

  // Every message sent while the phones idled must have been pushed to its phone.
  let missed = 0
  await Promise.all(
    watchers.map(async (w, i) => {
      try {
        await w.untilCount(expected[i]!, 5000)
      } catch {
        missed += expected[i]! - w.exists
      }
    }),
  )
  const cpuSeconds = nodeCpuSeconds(node) - cpuAtIdle
  const dovecotCpu = dovecotCpuSeconds(node) - dovecotCpuAtIdle
  // The deliveries are done once every push has come (above) and the node
  // has closed its LMTP sessions (LMTP_IDLE_MS in server/delivery/lmtp.ts):
  // from then on the phones only idle.
  const pushed = performance.now()
  await waitFor('the LMTP sessions to close after the last push', () => lmtpConnections(node) === 0, { timeoutMs: LMTP_CLOSED_MS, explain: () => `${lmtpConnections(node)} open` })
  const lmtpClosedSeconds = (performance.now() - pushed) / 1000
  const delivered = snapshot(node)
  await waitFor('the LMTP processes to end after the last push', () => lmtpProcesses(node) === 0, { timeoutMs: LMTP_GONE_MS, explain: () => `${lmtpProcesses(node)} left` })
  const lmtpGoneSeconds = (performance.now() - pushed) / 1000
  const phonesQuiet = snapshot(node)
  await closeAll()
  cleanups.splice(cleanups.indexOf(closeAll), 1)
  return { idle, afterBurst, phones: delivered, phonesQuiet, phonesPeak: peak, lmtpClosedSeconds, lmtpGoneSeconds, sentToPhones: sent, missedPushes: missed, burstPerSecond, loginSeconds, cpuSeconds, dovecotCpuSeconds: dovecotCpu }
}

/** The report: one column per moment, one row per kind of process, RSS [PSS]. */
export function printPhones(r: PhonesResult, opts: PhonesOptions, out: (line?: string) => void): void {
  const moments: Array<[string, Snapshot]> = [
    [`idle (${opts.settleSeconds} s after start)`, r.idle],
    [`after ${opts.burst}-message burst`, r.afterBurst],
    [`${opts.phones} phones, peak sending`, r.phonesPeak],
    [`${opts.phones} phones, delivered`, r.phones],
    [`${opts.phones} phones, quiet`, r.phonesQuiet],
  ]
  const cell = (m: { rssBytes: number; pssBytes: number; processes: number } | undefined) =>
    m ? `${m.processes > 1 ? `×${m.processes} ` : ''}${mb(m.rssBytes)} [${mb(m.pssBytes)}]`.padEnd(28) : '-'.padEnd(28)
  out(`  ${''.padEnd(16)}${moments.map(([label]) => label.padEnd(28)).join('')}`)
  const roles = [...new Set(moments.flatMap(([, s]) => s.roles.map((x) => x.role)))]
  // Largest first, by the phones column, where the differences show.
  roles.sort((a, b) => (r.phones.roles.find((x) => x.role === b)?.rssBytes ?? 0) - (r.phones.roles.find((x) => x.role === a)?.rssBytes ?? 0))
  for (const role of roles) out(`  ${role.padEnd(16)}${moments.map(([, s]) => cell(s.roles.find((x) => x.role === role))).join('')}`)
  out(`  ${'all'.padEnd(16)}${moments.map(([, s]) => cell(s.total)).join('')}`)
  const before = (m: { rss: number; pss: number }) => `${m.rss.toFixed(1)} MB [${m.pss.toFixed(1)} MB]`.padEnd(28)
  out(`  ${'all, before'.padEnd(16)}${[BEFORE.idle, BEFORE.burst, BEFORE.phones].map(before).join('')}(Dovecot's process defaults, V8's compilers; measured 2026-12-07 as the largest sample with the phones connected)`)
  out(`  peak sending: the largest once-a-second sample while messages went to the phones (LMTP mid-burst)`)
  out(`  delivered: every message pushed and no LMTP session open (${r.lmtpClosedSeconds.toFixed(1)} s after the last push); whatever idle LMTP processes Dovecot keeps are counted`)
  out(`  quiet: no LMTP process left (${r.lmtpGoneSeconds.toFixed(1)} s after the last push)`)
  const ratio = (bytes: number, target: number) => `${((bytes / 2 ** 20) / target).toFixed(2)}×`
  out(`  target          idle ≤ ${IDLE_TARGET_MB} MB RSS: ${ratio(r.idle.total.rssBytes, IDLE_TARGET_MB)} · ${opts.phones} phones ≤ ${PHONES_TARGET_MB} MB RSS: ${ratio(r.phones.total.rssBytes, PHONES_TARGET_MB)}`)
  out(`  burst accepted at ${r.burstPerSecond.toFixed(1)} msg/s (20 connections, each with STARTTLS and AUTH)`)
  out(`  ${opts.phones} phones connecting at once were all in IDLE after ${r.loginSeconds.toFixed(2)} s (STARTTLS, LOGIN, SELECT, IDLE each)`)
  out(`  CPU over the burst and the phones' run: outpost + Haraka ${r.cpuSeconds.toFixed(1)} s, Dovecot ${r.dovecotCpuSeconds.toFixed(1)} s (ended processes included)`)
  out(`  ${r.sentToPhones} messages sent to the idling phones over new SMTP sessions; pushes missed: ${r.missedPushes}`)
}

/** Runs benchPhones on a fresh node per way of running Haraka, child first, and prints each. */
export async function benchPhonesBothWays(opts: PhonesOptions, cleanups: Array<() => Promise<void>>, out: (line?: string) => void, domain = 'camp.test'): Promise<Record<HarakaHosting, PhonesResult>> {
  const results = {} as Record<HarakaHosting, PhonesResult>
  for (const haraka of HARAKA_HOSTING) {
    // Send limits would refuse the burst; the figures are about memory, not the limiter.
    const node = await startNode({ domain, env: { OUTPOST_LIMITS_SEND_PER_MINUTE: '1000000', OUTPOST_LIMITS_SEND_BURST: '1000000', OUTPOST_SMTP_HARAKA: haraka } })
    const destroy = () => node.destroy()
    cleanups.push(destroy)
    try {
      out(`  Haraka ${haraka === 'child' ? 'as a child process' : 'inside outpost start'} ([smtp] haraka = "${haraka}")`)
      results[haraka] = await benchPhones(node, opts, cleanups)
      printPhones(results[haraka], opts, out)
    } catch (err) {
      // The node's own log says why, before clean-up deletes its data dir.
      let log = ''
      try {
        log = readFileSync(join(nodePaths(node.data).log, 'dovecot.log'), 'utf8').split('\n').filter((l) => /Error|Warning|Fatal|Panic/.test(l)).slice(-20).join('\n')
      } catch {
        // no log yet
      }
      throw new Error(`${(err as Error).message}\n--- dovecot.log\n${log}\n--- outpost start\n${node.output().slice(-4000)}`, { cause: err })
    } finally {
      await destroy()
      cleanups.splice(cleanups.indexOf(destroy), 1)
    }
  }
  const child = results.child
  const inProcess = results['in-process']
  const side = (label: string, a: Snapshot, b: Snapshot) =>
    `${label} ${mb(b.total.rssBytes)} [${mb(b.total.pssBytes)}] against ${mb(a.total.rssBytes)} [${mb(a.total.pssBytes)}]: ${(b.total.rssBytes / a.total.rssBytes).toFixed(2)}× RSS, ${(b.total.pssBytes / a.total.pssBytes).toFixed(2)}× PSS`
  out(`  in-process against child, same run:`)
  out(`    ${side('idle', child.idle, inProcess.idle)}`)
  out(`    ${side('after the burst', child.afterBurst, inProcess.afterBurst)}`)
  out(`    ${side(`${opts.phones} phones, peak sending`, child.phonesPeak, inProcess.phonesPeak)}`)
  out(`    ${side(`${opts.phones} phones, delivered`, child.phones, inProcess.phones)}`)
  out(`    ${side(`${opts.phones} phones, quiet`, child.phonesQuiet, inProcess.phonesQuiet)}`)
  out(`    burst ${inProcess.burstPerSecond.toFixed(1)} against ${child.burstPerSecond.toFixed(1)} msg/s; CPU ${inProcess.cpuSeconds.toFixed(1)} against ${child.cpuSeconds.toFixed(1)} s`)
  return results
}

export function phonesOptionsFromEnv(): PhonesOptions {
  return {
    phones: Number(process.env.BENCH_PHONES ?? 30),
    burst: Number(process.env.BENCH_BURST ?? 200),
    seconds: Number(process.env.BENCH_PHONES_SECONDS ?? 20),
    settleSeconds: 15,
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cleanups: Array<() => Promise<void>> = []
  const opts = phonesOptionsFromEnv()
  const out = (line = '') => process.stdout.write(line + '\n')
  try {
    out(`Memory with ${opts.phones} phones, RSS [PSS] per kind of process`)
    await benchPhonesBothWays(opts, cleanups, out)
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  } finally {
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined)
  }
}
