// The scale bench: a node with 500 accounts, 50 peers and 1k, 10k, then
// 100k messages waiting, and what every view costs at each size.
//
// The node is filled through a fast path that writes exactly the rows (and
// spool files) that mail accepted over SMTP leaves: accounts with one
// Argon2 hash shared by all (hashing 500 passwords would only measure
// Argon2), peers with real age recipients (export encrypts to them), and
// outbox rows as Outbox.enqueue writes them (test/helpers/outbox-seed.ts).
// Only durability is skipped while seeding: one transaction, no fsync per
// message.
//
// Figures: every CLI view as a whole process (against two floors: a bare
// `node -e 0`, and `outpost --help`, the cheapest command), every GET of the web API in process, the median of a
// few runs each, with the ratio from one size to the next (about 1 for a
// paged view, at most 10 for a tenfold size); then an export of everything
// in a child process on the built code, in msg/s, with its idle and peak
// RSS: once as `outpost export` and the USB offload run (bin/outpost.mjs
// starts them with the node's V8 flags and a one-thread libuv pool:
// server/base/v8-flags.ts), once with Node's defaults. Last, an import of a stick carrying as many
// messages as wait (1k, 10k, 100k up to BENCH_SCALE_IMPORT_MAX), in msg/s:
// peer p00 is a real node (its own keys), which seals local mail for this
// node's 500 accounts; the import runs in this process as `outpost import`
// does, fsync'd ledger included, with Dovecot replaced by an LMTP fake that
// answers at once (test/helpers/fake-lmtp.ts). So the figure is Outpost's
// own part of import as the outbox and ledger grow; Dovecot's own storing
// is measured in bench/import.ts.
//
// Run alone: `node --import tsx bench/scale.ts` (after `node build/build.mjs`);
// `npm run bench` runs it at the end. BENCH_SCALE_MAX=10000 stops earlier.
import { spawnSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { opsNode, type OpsNode } from '../test/helpers/ops-admin.js'
import { seedOutbox } from '../test/helpers/outbox-seed.js'
import { hashPassword } from '../server/accounts/password.js'
import { ms } from './percentiles.js'
import { EXPORT_ENV, NODE_FLAGS } from '../server/base/v8-flags.js'
import { initNode } from '../server/node/init.js'
import { exec } from '../server/base/exec.js'
import { openNode, type NodeContext } from '../server/context/context.js'
import { Exchange, exchangeServices } from '../server/exchange/exchange.js'
import { makeCard } from '../server/identity/card.js'
import { loadIdentity } from '../server/identity/keys.js'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..')
const OUTPOST_BIN = join(ROOT, 'bin', 'outpost.mjs')
const SIZES = [1_000, 10_000, 100_000].filter((n) => n <= Number(process.env.BENCH_SCALE_MAX ?? 100_000))
const ACCOUNTS = 500
const PEERS = 50
const RUNS = 5
/** The largest stick imported; above it the import column says "not run". */
const IMPORT_MAX = Number(process.env.BENCH_SCALE_IMPORT_MAX ?? 100_000)

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** What each view is, as `outpost` arguments or an API path. */
const CLI_VIEWS: string[][] = [['status'], ['queue'], ['queue', '--peer', 'p00'], ['account', 'list'], ['peer', 'list'], ['route', 'list'], ['transport', 'list'], ['clock']]
const API_VIEWS = ['/api/queue', '/api/queue?peer=p00', '/api/dashboard', '/api/traffic', '/api/events', '/api/accounts', '/api/accounts?search=user42', '/api/peers', '/api/routes', '/api/transports', '/api/clock', '/api/usb', '/api/uplink', '/api/settings']
/** The targets of issue 19 on this machine. */
const CLI_TARGET_MS = 200
const API_TARGET_MS = 100

/** A time as the wall clock saw it, and the CPU time spent in it (the part a busy machine does not stretch), each the median of RUNS. */
interface Timing {
  wall: number
  cpu: number
}

/** Reports the process's own CPU time (user + system, start-up included) on exit, to the file named by BENCH_CPU_FILE. */
const CPU_HOOK = `process.on('exit', () => { const u = process.cpuUsage(); require('node:fs').writeFileSync(process.env.BENCH_CPU_FILE, String((u.user + u.system) / 1000)) })`

function cliMs(args: string[], data: string | null, cpuFile: string): Timing {
  const walls: number[] = []
  const cpus: number[] = []
  const hookFile = `${cpuFile}-hook.cjs`
  writeFileSync(hookFile, CPU_HOOK)
  // Through NODE_OPTIONS, not the command line: V8's code cache of the
  // command line is kept per set of Node flags (server/base/code-cache.ts),
  // and a --require there would have the views run on a cache of their own,
  // made by whichever view ran first, instead of the one the build made.
  const nodeOptions = [process.env.NODE_OPTIONS, `--require ${hookFile}`].filter(Boolean).join(' ')
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    const r = spawnSync(process.execPath, data === null ? args : [OUTPOST_BIN, ...args, '--data', data], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, BENCH_CPU_FILE: cpuFile, NODE_OPTIONS: nodeOptions } })
    walls.push(performance.now() - t)
    if (r.status !== 0) throw new Error(`outpost ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
    cpus.push(Number(readFileSync(cpuFile, 'utf8')))
  }
  return { wall: median(walls), cpu: median(cpus) }
}

async function apiMs(n: OpsNode, url: string): Promise<Timing> {
  const walls: number[] = []
  const cpus: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const c = process.cpuUsage()
    const t = performance.now()
    const r = await n.get(url)
    walls.push(performance.now() - t)
    const u = process.cpuUsage(c)
    cpus.push((u.user + u.system) / 1000)
    if (r.statusCode !== 200) throw new Error(`GET ${url} answered ${r.statusCode}: ${r.body}`)
  }
  return { wall: median(walls), cpu: median(cpus) }
}

async function fill(n: OpsNode, gateDir: string): Promise<{ peers: string[]; gate: NodeContext }> {
  const db = n.node.db.$client
  const hash = await hashPassword('bench-password')
  const addAccount = db.prepare('INSERT INTO accounts (address, password_hash, created_at) VALUES (?, ?, ?)')
  db.transaction(() => {
    for (let i = 0; i < ACCOUNTS; i++) addAccount.run(`user${i}@camp.test`, hash, Date.now())
  })()
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption')
  const addPeer = db.prepare("INSERT INTO peers (name, sign_key, age_recipient, domains, reach, added_at) VALUES (?, ?, ?, ?, '[]', ?)")
  // p00 is a real node, which seals the sticks this node imports; the other 49 exist only as rows.
  const gate = openNode((await initNode({ data: gateDir, domain: 'p00.test', name: 'p00', host: '127.0.0.1' }, exec)).paths.data)
  const camp = exchangeServices(n.node, { log: () => undefined }).peers
  camp.add(makeCard({ config: gate.config, identity: loadIdentity(gate.paths) }))
  exchangeServices(gate, { log: () => undefined }).peers.add(makeCard({ config: n.node.config, identity: loadIdentity(n.node.paths) }))
  const names: string[] = ['p00']
  for (let i = 1; i < PEERS; i++) {
    const name = `p${String(i).padStart(2, '0')}`
    addPeer.run(name, randomBytes(32).toString('base64url'), await identityToRecipient(await generateX25519Identity()), JSON.stringify([`${name}.test`]), Date.now())
    names.push(name)
  }
  return { peers: names, gate }
}

interface ExportFigures {
  messages: number
  ms: number
  idleRssMb: number
  peakRssMb: number
}

/**
 * The export of everything, in a process of its own on the built code (as
 * `outpost export` runs, and without tsx compiling modules mid-export), so
 * its RSS is the export's: idle is the process with the node open and the
 * export step loaded, peak the most it held while exporting.
 */
async function exportInChild(data: string, out: string, flags: readonly string[], env: Record<string, string>): Promise<ExportFigures> {
  const dist = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'server', p)).href)
  const code = `
    const { openNode } = await import(${dist('context/context.js')})
    const { Exchange, exchangeServices } = await import(${dist('exchange/exchange.js')})
    const node = openNode(${JSON.stringify(data)})
    const x = new Exchange(node, exchangeServices(node, { log: () => undefined }))
    const { readFileSync, writeFileSync } = await import('node:fs')
    globalThis.gc()
    const idle = process.memoryUsage().rss
    // The kernel's own high-water mark of this process's RSS (VmHWM), reset
    // here to the idle RSS ("5" to clear_refs, Linux 4.0 and later), so it
    // misses no spike between two samples. Not resourceUsage().maxRSS: a
    // child started with vfork (libuv's spawn) inherits its parent's
    // high-water mark across exec, so it reported the bench process's RSS.
    let hwm = true
    try { writeFileSync('/proc/self/clear_refs', '5') } catch { hwm = false }
    const vmHwm = () => {
      const kb = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
      if (!kb) throw new Error('no VmHWM in /proc/self/status')
      return Number(kb) * 1024
    }
    let peak = idle
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10)
    const t = performance.now()
    const results = await x.exportTo(${JSON.stringify(out)})
    const ms = performance.now() - t
    clearInterval(sampler)
    peak = Math.max(peak, process.memoryUsage().rss, hwm ? vmHwm() : 0)
    node.close()
    const messages = results.reduce((n, r) => n + r.messages, 0)
    process.stdout.write(JSON.stringify({ messages, ms, idleRssMb: idle / 2 ** 20, peakRssMb: peak / 2 ** 20 }) + '\\n')
  `
  const base = { ...process.env }
  delete base.UV_THREADPOOL_SIZE
  const child = spawn(process.execPath, [...flags, '--expose-gc', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...base, ...env } })
  let text = ''
  child.stdout.on('data', (c: Buffer) => (text += c.toString()))
  const exit = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  if (exit !== 0) throw new Error(`the export child exited ${exit}: ${text}`)
  return JSON.parse(text.trim().split('\n').at(-1)!) as ExportFigures
}

interface ImportFigures {
  messages: number
  ms: number
}

/**
 * A stick from p00 carrying `count` messages of local mail for this node's
 * accounts (sealed by p00's own export), then imported here as `outpost
 * import` does. Timed from the first bundle read to the last ledger write.
 */
async function importStick(n: OpsNode, gate: NodeContext, count: number, offset: number, stick: string): Promise<ImportFigures> {
  seedOutbox(gate.db, {
    messages: count,
    peers: [n.node.config.node.name],
    spool: gate.paths.spool,
    offset,
    envelope: (i) => ({ sender: `friend${i % 97}@p00.test`, recipients: [`user${i % ACCOUNTS}@camp.test`] }),
  })
  mkdirSync(stick)
  await new Exchange(gate, exchangeServices(gate, { log: () => undefined })).exportTo(stick)
  // p00 never hears the acks here: it forgets what it carried, so its next stick holds only new mail.
  gate.db.$client.prepare('DELETE FROM outbox').run()
  const x = new Exchange(n.node, exchangeServices(n.node, { log: () => undefined }))
  const t = performance.now()
  const results = await x.importFrom(stick)
  const took = performance.now() - t
  let messages = 0
  for (const r of results) {
    if (r.outcome.kind !== 'imported') throw new Error(`import: ${JSON.stringify(r.outcome).slice(0, 300)}`)
    messages += r.outcome.delivered
  }
  if (messages !== count) throw new Error(`the import delivered ${messages} of ${count}: ${JSON.stringify(results).slice(0, 600)}`)
  return { messages, ms: took }
}

interface Row {
  size: number
  cli: Timing[]
  api: Timing[]
  /** With the node's V8 flags, then with Node's defaults. */
  exported: [ExportFigures, ExportFigures]
  /** Null above BENCH_SCALE_IMPORT_MAX. */
  imported: ImportFigures | null
}

export async function benchScale(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'op-bench-scale-'))
  // The LMTP fake keeps nothing, and neither does the helper keep the events
  // pushed: 111,000 messages (and 200,000 events) held in this process would
  // make its garbage collector's work, not import's, grow with each size.
  const n = await opsNode(join(dir, 'camp'), 'camp.test', { lmtp: { keep: false }, keepPushed: false })
  const rows: Row[] = []
  let gate: NodeContext | undefined
  try {
    const filled = await fill(n, join(dir, 'p00'))
    const peers = filled.peers
    gate = filled.gate
    // A first small import, so that the timed ones do not include loading the import's modules.
    await importStick(n, gate, 10, 5_000_000, join(dir, 'stick-warm'))
    rmSync(join(dir, 'stick-warm'), { recursive: true, force: true })
    const cpuFile = join(dir, 'cpu')
    const floors = { node: cliMs(['-e', '0'], null, cpuFile), help: cliMs(['--help'], n.node.paths.data, cpuFile) }
    console.log(`scale: ${ACCOUNTS} accounts, ${PEERS} peers; the CLI's floors: Node itself (node -e 0) ${ms(floors.node.wall)} (CPU ${ms(floors.node.cpu)}), the cheapest command (outpost --help) ${ms(floors.help.wall)} (CPU ${ms(floors.help.cpu)})`)
    let seeded = 0
    let imported = 0
    for (const size of SIZES) {
      const t = performance.now()
      seedOutbox(n.node.db, { messages: size - seeded, peers, spool: n.node.paths.spool, events: true, offset: seeded, start: Date.now() - 30 * 24 * 3600 * 1000 + seeded * 1000 })
      seeded = size
      // One transaction of up to 90k rows leaves a WAL of that size, which
      // every new process would read; a running node's WAL is checkpointed
      // as it goes, so the views are measured after a checkpoint.
      n.node.db.$client.pragma('wal_checkpoint(TRUNCATE)')
      process.stdout.write(`scale: ${size} waiting (seeded in ${ms(performance.now() - t)}) … `)
      const cli = CLI_VIEWS.map((args) => cliMs(args, n.node.paths.data, cpuFile))
      const api: Timing[] = []
      for (const url of API_VIEWS) api.push(await apiMs(n, url))
      const exported: ExportFigures[] = []
      // As `outpost export` and the USB offload run (bin/outpost.mjs), then with Node's defaults.
      for (const [flags, env] of [[NODE_FLAGS, EXPORT_ENV], [[], {}]] as const) {
        const out = join(dir, `stick-${size}`)
        mkdirSync(out)
        exported.push(await exportInChild(n.node.paths.data, out, flags, env))
        rmSync(out, { recursive: true, force: true })
      }
      let imp: ImportFigures | null = null
      if (size <= IMPORT_MAX) {
        imp = await importStick(n, gate, size, 10_000_000 + imported, join(dir, `import-${size}`))
        imported += size
        rmSync(join(dir, `import-${size}`), { recursive: true, force: true })
      }
      console.log('measured')
      rows.push({ size, cli, api, exported: exported as Row['exported'], imported: imp })
    }
    printTables(rows, floors)
    return rows
  } finally {
    gate?.close()
    await n.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** One table of views by size, one of the export: what a closing note quotes. */
function printTables(rows: Row[], floors: { node: Timing; help: Timing }): void {
  // The ratio is of CPU time: on a shared machine the wall clock swings with
  // the load, the CPU a view spends much less.
  const ratio = (xs: Timing[], i: number) => (i ? ` (${(xs[i]!.cpu / xs[i - 1]!.cpu).toFixed(1)}×)` : '')
  const over = (x: Timing, target: number) => (x.cpu > target ? ' **over**' : x.wall > target ? ' *wall over*' : '')
  const cell = (xs: Timing[], i: number, target: number) => `${ms(xs[i]!.wall)} / ${ms(xs[i]!.cpu)}${ratio(xs, i)}${over(xs[i]!, target)}`
  const sizes = rows.map((r) => r.size.toLocaleString('en'))
  console.log(`\n| view | ${sizes.join(' | ')} |`)
  console.log(`|---|${sizes.map(() => '---|').join('')}`)
  const line = (name: string, xs: Timing[], target: number) => console.log(`| ${name} | ${xs.map((_, i) => cell(xs, i, target)).join(' | ')} |`)
  CLI_VIEWS.forEach((args, v) => line(`\`outpost ${args.join(' ')}\``, rows.map((r) => r.cli[v]!), CLI_TARGET_MS))
  API_VIEWS.forEach((url, v) => line(`GET ${url}`, rows.map((r) => r.api[v]!), API_TARGET_MS))
  line('floor: `node -e 0`', rows.map(() => floors.node), CLI_TARGET_MS)
  line('floor: `outpost --help`', rows.map(() => floors.help), CLI_TARGET_MS)
  console.log(`(Each cell: wall / CPU time, the median of ${RUNS}; in brackets the ratio of CPU time to the size before. CLI: whole processes, Node's own start included, target ${CLI_TARGET_MS} ms; the floors were measured once. API: in process, target ${API_TARGET_MS} ms. **over**: the CPU time alone is over the target; *wall over*: only the wall time, which the machine's load stretches.)`)
  console.log('\n| waiting | export, node flags | peak RSS (idle, +) | export, Node defaults | peak RSS (idle, +) | import of a stick of as many |')
  console.log('|---|---|---|---|---|---|')
  const fig = (e: ExportFigures) => [`${e.messages} in ${ms(e.ms)}, ${(e.messages / (e.ms / 1000)).toFixed(0)} msg/s`, `${e.peakRssMb.toFixed(0)} MB (${e.idleRssMb.toFixed(0)}, +${(e.peakRssMb - e.idleRssMb).toFixed(0)})`]
  const imp = (i: ImportFigures | null) => (i ? `${i.messages} in ${ms(i.ms)}, ${(i.messages / (i.ms / 1000)).toFixed(0)} msg/s` : `not run (BENCH_SCALE_IMPORT_MAX=${IMPORT_MAX})`)
  for (const r of rows) console.log(`| ${r.size.toLocaleString('en')} | ${[...fig(r.exported[0]), ...fig(r.exported[1]), imp(r.imported)].join(' | ')} |`)
  console.log('(Node flags: the V8 flags and one-thread libuv pool of server/base/v8-flags.ts, as `outpost export` and the USB offload run; defaults: Node with neither. Peak: the kernel\'s high-water mark of the export process (VmHWM) from idle on. Target: peak within 50 MB of idle.)')
  console.log("(Import: local mail from p00 for the 500 accounts, fsync'd ledger included, into an LMTP fake that answers at once: Outpost's own part. Dovecot's storing on this disk is bench/import.ts's figure.)")
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchScale()
}
