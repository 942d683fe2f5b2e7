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
// Figures: the CLI views as whole processes (`outpost status`, `outpost
// queue`, against the floor of `outpost --help`), the web API in process
// (GET /api/queue's first page, GET /api/dashboard), the median of a few
// runs each, with the ratio from one size to the next (about 1 for a paged
// view, at most 10 for a tenfold size); then an export of everything in a
// child process, in msg/s, with its idle and peak RSS.
//
// Run alone: `node --import tsx bench/scale.ts` (after `node build/build.mjs`);
// `npm run bench` runs it at the end. BENCH_SCALE_MAX=10000 stops earlier.
import { spawnSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { opsNode, type OpsNode } from '../test/helpers/ops-admin.js'
import { seedOutbox } from '../test/helpers/outbox-seed.js'
import { hashPassword } from '../server/accounts/password.js'
import { openNode } from '../server/context/context.js'
import { Exchange, exchangeServices } from '../server/exchange/exchange.js'
import { ms } from './percentiles.js'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..')
const OUTPOST_BIN = join(ROOT, 'bin', 'outpost.mjs')
const SIZES = [1_000, 10_000, 100_000].filter((n) => n <= Number(process.env.BENCH_SCALE_MAX ?? 100_000))
const ACCOUNTS = 500
const PEERS = 50
const RUNS = 5

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function cliMs(args: string[], data: string): number {
  const samples: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    const r = spawnSync(process.execPath, [OUTPOST_BIN, ...args, '--data', data], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    samples.push(performance.now() - t)
    if (r.status !== 0) throw new Error(`outpost ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  }
  return median(samples)
}

async function apiMs(n: OpsNode, url: string): Promise<{ ms: number; bytes: number }> {
  const samples: number[] = []
  let bytes = 0
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    const r = await n.get(url)
    samples.push(performance.now() - t)
    if (r.statusCode !== 200) throw new Error(`GET ${url} answered ${r.statusCode}: ${r.body}`)
    bytes = r.body.length
  }
  return { ms: median(samples), bytes }
}

async function fill(n: OpsNode): Promise<string[]> {
  const db = n.node.db.$client
  const hash = await hashPassword('bench-password')
  const addAccount = db.prepare('INSERT INTO accounts (address, password_hash, created_at) VALUES (?, ?, ?)')
  db.transaction(() => {
    for (let i = 0; i < ACCOUNTS; i++) addAccount.run(`user${i}@camp.test`, hash, Date.now())
  })()
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption')
  const addPeer = db.prepare("INSERT INTO peers (name, sign_key, age_recipient, domains, reach, added_at) VALUES (?, ?, ?, ?, '[]', ?)")
  const names: string[] = []
  for (let i = 0; i < PEERS; i++) {
    const name = `p${String(i).padStart(2, '0')}`
    addPeer.run(name, randomBytes(32).toString('base64url'), await identityToRecipient(await generateX25519Identity()), JSON.stringify([`${name}.test`]), Date.now())
    names.push(name)
  }
  return names
}

interface ExportFigures {
  messages: number
  ms: number
  idleRssMb: number
  peakRssMb: number
}

/** The export of everything, in a process of its own, so its RSS is the export's. */
async function exportInChild(data: string, out: string): Promise<ExportFigures> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--export', data, out], { stdio: ['ignore', 'pipe', 'inherit'] })
  let text = ''
  child.stdout.on('data', (c: Buffer) => (text += c.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  if (code !== 0) throw new Error(`the export child exited ${code}: ${text}`)
  return JSON.parse(text.trim().split('\n').at(-1)!) as ExportFigures
}

async function exportChild(data: string, out: string): Promise<void> {
  const node = openNode(data)
  const x = new Exchange(node, exchangeServices(node, { log: () => undefined }))
  global.gc?.()
  const idle = process.memoryUsage().rss
  let peak = idle
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20)
  const t = performance.now()
  const results = await x.exportTo(out)
  const elapsed = performance.now() - t
  clearInterval(sampler)
  peak = Math.max(peak, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024)
  node.close()
  const messages = results.reduce((n, r) => n + r.messages, 0)
  process.stdout.write(`${JSON.stringify({ messages, ms: elapsed, idleRssMb: idle / 2 ** 20, peakRssMb: peak / 2 ** 20 })}\n`)
}

interface Row {
  size: number
  status: number
  queue: number
  apiQueue: { ms: number; bytes: number }
  dashboard: { ms: number; bytes: number }
  exported: ExportFigures
}

export async function benchScale(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'op-bench-scale-'))
  const n = await opsNode(join(dir, 'camp'), 'camp.test')
  const rows: Row[] = []
  try {
    const peers = await fill(n)
    const floor = cliMs(['--help'], n.node.paths.data)
    console.log(`scale: ${ACCOUNTS} accounts, ${PEERS} peers; the CLI's floor (outpost --help) is ${ms(floor)}`)
    let seeded = 0
    for (const size of SIZES) {
      const t = performance.now()
      seedOutbox(n.node.db, { messages: size - seeded, peers, spool: n.node.paths.spool, offset: seeded, start: Date.now() - 30 * 24 * 3600 * 1000 + seeded * 1000 })
      seeded = size
      // One transaction of up to 90k rows leaves a WAL of that size, which
      // every new process would read; a running node's WAL is checkpointed
      // as it goes, so the views are measured after a checkpoint.
      n.node.db.$client.pragma('wal_checkpoint(TRUNCATE)')
      process.stdout.write(`scale: ${size} waiting (seeded in ${ms(performance.now() - t)}) … `)
      const row: Row = {
        size,
        status: cliMs(['status'], n.node.paths.data),
        queue: cliMs(['queue'], n.node.paths.data),
        apiQueue: await apiMs(n, '/api/queue'),
        dashboard: await apiMs(n, '/api/dashboard'),
        exported: { messages: 0, ms: 0, idleRssMb: 0, peakRssMb: 0 },
      }
      const out = join(dir, `stick-${size}`)
      mkdirSync(out)
      row.exported = await exportInChild(n.node.paths.data, out)
      rmSync(out, { recursive: true, force: true })
      console.log('measured')
      rows.push(row)
    }
    const r = (k: (x: Row) => number, i: number) => (i ? `${(k(rows[i]!) / k(rows[i - 1]!)).toFixed(2)}×` : '')
    console.log('\n| waiting | outpost status | outpost queue | GET /api/queue (first page) | GET /api/dashboard | export | export peak RSS (idle) |')
    console.log('|---|---|---|---|---|---|---|')
    for (const [i, x] of rows.entries()) {
      const rate = x.exported.messages / (x.exported.ms / 1000)
      console.log(
        `| ${x.size} | ${ms(x.status)} ${r((y) => y.status, i)} | ${ms(x.queue)} ${r((y) => y.queue, i)} | ${ms(x.apiQueue.ms)} ${r((y) => y.apiQueue.ms, i)} (${(x.apiQueue.bytes / 1024).toFixed(1)} KB) | ${ms(x.dashboard.ms)} ${r((y) => y.dashboard.ms, i)} | ${x.exported.messages} in ${ms(x.exported.ms)}, ${rate.toFixed(0)} msg/s | ${x.exported.peakRssMb.toFixed(0)} MB (${x.exported.idleRssMb.toFixed(0)} MB, +${(x.exported.peakRssMb - x.exported.idleRssMb).toFixed(0)}) |`,
      )
    }
    console.log('(CLI times are whole processes, the floor included; ratios are to the size before.)')
    return rows
  } finally {
    await n.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--export') {
  await exportChild(process.argv[3]!, process.argv[4]!)
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchScale()
}
