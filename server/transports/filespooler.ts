// The Filespooler transport (Debian package `filespooler`, command `fspl`).
// Each bundle for the peer becomes one fspl job with the next number of this
// node's sequence for that peer; any carrier (a stick, rsync, Syncthing, NNCP)
// moves the job files from OUTQUEUE/jobs/ into the peer's INQUEUE/jobs/, in
// any order and as often as it likes. `fspl queue-process` on the receiving
// side runs `outpost import -` for the jobs strictly in sequence order, once
// each. The on-disk contract is in docs/transports/filespooler.md.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { appRoot } from '../base/app-root.js'
import { writeFileDurable, fsyncDir } from '../base/durable.js'
import { execOk, type Exec } from '../base/exec.js'
import { TransportConfigError, checkConfigKeys, sendOptions, type TransportDriver, type TransportRunContext } from './transport.js'

export interface FilespoolerConfig {
  outqueue: string
  inqueue: string
  /** Unset: filespooler/<peer>/seq in the node's data dir, filled in at run time. */
  seqfile?: string
}

const FSPL = 'fspl'
/** One `outpost import -` may deliver a large bundle through LMTP; give the whole queue run time. */
const PROCESS_TIMEOUT_MS = 30 * 60 * 1000

// The summary line `outpost import` prints for every job (server/cli/exchange.ts).
const IMPORT_SUMMARY = /^imported (\d+) bundles, (\d+) seen before, (\d+) deferred, (\d+) quarantined$/gm
const DUPLICATE_SEQ = /Attempted to process "([^"]+)" with seq (\d+), which was already seen in "([^"]+)"/

function absolute(kind: string, key: string, v: string): string {
  if (!v.startsWith('/')) throw new TransportConfigError(`${kind}: ${key} must be an absolute path, not "${v}"`)
  return v
}

/** Where this node keeps its Filespooler state for one peer: the sequence file and jobs not yet handed to the queue. */
function stateDir(ctx: TransportRunContext): string {
  return join(ctx.node.paths.data, 'filespooler', ctx.peer)
}

/**
 * `fspl prepare` writes the job (binary) to stdout, and the exec seam carries
 * text only; a shell redirect puts the bytes into a file without passing
 * them through JavaScript strings.
 */
export async function prepareJob(exec: Exec, seqfile: string, bundleFile: string, jobFile: string): Promise<void> {
  await execOk(exec, 'sh', ['-c', 'exec fspl prepare -s "$1" -i "$2" > "$3"', 'fspl-prepare', seqfile, bundleFile, jobFile])
}

async function queueWrite(exec: Exec, queue: string, jobFile: string): Promise<void> {
  await execOk(exec, 'sh', ['-c', 'exec fspl queue-write -q "$1" < "$2"', 'fspl-queue-write', queue, jobFile])
}

export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Hands every staged job to the outgoing queue; a job leaves the staging folder only once fspl has it. */
export async function flushStaged(exec: Exec, staged: string, outqueue: string): Promise<number> {
  let names: string[]
  try {
    names = readdirSync(staged).filter((n) => n.endsWith('.fspl')).sort()
  } catch {
    return 0
  }
  for (const n of names) {
    await queueWrite(exec, outqueue, join(staged, n))
    unlinkSync(join(staged, n))
  }
  return names.length
}

/** Makes DIR a Filespooler queue unless it is one already. */
export async function ensureQueue(exec: Exec, dir: string, appendOnly: boolean): Promise<void> {
  if (!existsSync(dirname(dir))) throw new Error(`${dirname(dir)} is not there (not mounted?); the queue ${dir} lives in it`)
  const jobs = join(dir, 'jobs')
  if (appendOnly) {
    if (!existsSync(jobs)) await execOk(exec, FSPL, ['queue-init', '--append-only', '-q', dir])
    return
  }
  if (existsSync(join(dir, 'nextseq'))) return
  if (!existsSync(jobs)) {
    await execOk(exec, FSPL, ['queue-init', '-q', dir])
    return
  }
  // A carrier got here first and made jobs/; `fspl queue-init` refuses an
  // existing jobs/ (EEXIST), so add the sequence file by fspl's own command
  // after creating the lock file it needs. The queue starts at job 1, the
  // first number `fspl prepare` hands out.
  writeFileSync(join(dir, 'nextseq.lock'), '', { flag: 'a' })
  await execOk(exec, FSPL, ['queue-set-next', '-q', dir, '1'])
}

interface QueueJob {
  seq: number
  file: string
}

async function listJobs(exec: Exec, queue: string): Promise<QueueJob[]> {
  const out = await execOk(exec, FSPL, ['queue-ls', '-q', queue])
  const jobs: QueueJob[] = []
  for (const line of out.split('\n').slice(1)) {
    const [seq, , file] = line.trim().split(/\s+/)
    if (seq && file && /^\d+$/.test(seq)) jobs.push({ seq: Number(seq), file })
  }
  return jobs
}

/**
 * Jobs numbered below the queue's next number were run already; a carrier
 * that copies instead of moving (or copies the same stick twice) brings
 * them again. fspl ignores them, but they would pile up in jobs/ for ever.
 */
async function dropStaleJobs(exec: Exec, queue: string): Promise<number> {
  const next = Number((await execOk(exec, FSPL, ['queue-get-next', '-q', queue])).trim())
  let dropped = 0
  for (const j of await listJobs(exec, queue)) {
    if (j.seq < next) {
      unlinkSync(join(queue, 'jobs', j.file))
      dropped++
    }
  }
  return dropped
}

export const filespoolerTransport: TransportDriver<FilespoolerConfig> = {
  kind: 'filespooler',
  doc: 'Bundles travel as Filespooler (fspl) jobs: written into a queue whose jobs/ folder any carrier moves to the peer, and applied there strictly in order, once each. Needs the `filespooler` package. See docs/transports/filespooler.md.',
  // A carrier moves the jobs on its own time; a look every 10 minutes sends
  // and applies without re-sending unacknowledged mail too often (every run
  // seals what still waits into a new job).
  defaultSchedule: '*/10 * * * *',
  configKeys: {
    outqueue: { doc: "this node's outgoing queue for the peer; a carrier moves the files in its jobs/ folder into the peer's inqueue/jobs/", required: true },
    inqueue: { doc: 'the queue this node processes; jobs from the peer arrive in its jobs/ folder', required: true },
    seqfile: { doc: "fspl's sequence file for jobs to the peer (default: filespooler/<peer>/seq in the node's data dir); losing it restarts numbering at 1" },
  },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    const outqueue = absolute('filespooler', 'outqueue', c.outqueue!)
    const inqueue = absolute('filespooler', 'inqueue', c.inqueue!)
    if (outqueue === inqueue) throw new TransportConfigError('filespooler: outqueue and inqueue must be different queues (each queue has one sequence, numbered by its sender)')
    return { outqueue, inqueue, ...(c.seqfile ? { seqfile: absolute('filespooler', 'seqfile', c.seqfile) } : {}) }
  },
  async run(ctx, config) {
    const state = stateDir(ctx)
    const staged = join(state, 'staged')
    const seqfile = config.seqfile ?? join(state, 'seq')
    mkdirSync(staged, { recursive: true })
    await ctx.exec(FSPL, ['--version']).catch((err: Error) => {
      throw new Error(`${err.message}: install the Debian package \`filespooler\``)
    })
    await ensureQueue(ctx.exec, config.outqueue, true)

    // Jobs prepared by a run that failed before `queue-write` come first:
    // their numbers are taken, and a gap would stop the peer's queue.
    const leftOver = await flushStaged(ctx.exec, staged, config.outqueue)

    const sent = await ctx.exchange.exportPeer(ctx.peer, async (name, bytes) => {
      const bundleFile = join(state, `${name}.tmp`)
      writeFileDurable(bundleFile, bytes, 0o600)
      // `fspl prepare` takes the next number and saves the sequence file
      // before it writes the job, so the job must reach disk (staged, in our
      // data dir) before the bundle counts as sent.
      const job = join(staged, `${name}.fspl`)
      const tmp = `${job}.tmp`
      try {
        await prepareJob(ctx.exec, seqfile, bundleFile, tmp)
        fsyncFile(tmp)
        renameSync(tmp, job)
        fsyncDir(staged)
      } finally {
        unlinkSync(bundleFile)
      }
      return job
    }, sendOptions(ctx, 'filespooler'))
    const written = await flushStaged(ctx.exec, staged, config.outqueue)
    if (leftOver) ctx.log(`filespooler → ${ctx.peer}: wrote ${leftOver} jobs prepared by an earlier run that stopped`)

    // Receiving: fspl runs `outpost import -` for each job in sequence
    // order. With --on-error Retry (fspl's default) a job whose import fails
    // stays in the queue and processing stops there, so order is kept.
    await ensureQueue(ctx.exec, config.inqueue, false)
    const importCmd = [process.execPath, '--', join(appRoot(), 'bin/outpost.mjs'), 'import', '-', '--data', ctx.node.paths.data]
    let received = 0
    let quarantined = 0
    let deferred = ''
    for (;;) {
      const r = await ctx.exec(FSPL, ['queue-process', '-q', config.inqueue, ...importCmd], { timeoutMs: PROCESS_TIMEOUT_MS })
      const summaries = [...r.stdout.matchAll(IMPORT_SUMMARY)]
      received += summaries.reduce((n, m) => n + Number(m[1]), 0)
      // `import -` exits 0 for a bundle it quarantined (it keeps the bytes),
      // so fspl lets the job go and one damaged file never stops the queue.
      quarantined += summaries.reduce((n, m) => n + Number(m[4]), 0)
      if (r.code === 0) break
      const last = summaries.at(-1)
      const dup = DUPLICATE_SEQ.exec(r.stderr)
      if (last && Number(last[3]) > 0) {
        // Exit 75: the bundle is fine but cannot be applied now (Dovecot
        // down). It stays at the head of the queue for the next run.
        deferred = `job ${await headSeq(ctx.exec, config.inqueue)} deferred (the node could not deliver it now; it stays in ${config.inqueue} for the next run)`
        ctx.log(`filespooler ← ${ctx.peer}: ${deferred}`)
        break
      }
      if (dup && sameBytes(join(config.inqueue, 'jobs', dup[1]!), join(config.inqueue, 'jobs', dup[3]!))) {
        // The same job twice under two names (a carrier that renames on a
        // clash): fspl refuses to choose, and identical copies need no choice.
        unlinkSync(join(config.inqueue, 'jobs', dup[1]!))
        continue
      }
      throw new Error(`fspl queue-process on ${config.inqueue} failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout)}`)
    }
    const dropped = await dropStaleJobs(ctx.exec, config.inqueue)

    const parts = [`sent ${sent.messages} messages and ${sent.acks} acks as ${written} jobs into ${config.outqueue}`, `applied ${received} bundles from ${config.inqueue}`]
    if (quarantined) parts.push(`${quarantined} bundles quarantined (see \`outpost status\`)`)
    if (dropped) parts.push(`dropped ${dropped} jobs seen before`)
    if (deferred) parts.push(deferred)
    return { sentBundles: sent.bundles, sentBytes: sent.bytes, receivedBundles: received, receivedBytes: 0, detail: parts.join('; ') }
  },
}

async function headSeq(exec: Exec, queue: string): Promise<number> {
  return Number((await execOk(exec, FSPL, ['queue-get-next', '-q', queue])).trim())
}

function sameBytes(a: string, b: string): boolean {
  try {
    return statSync(a).size === statSync(b).size && readFileSync(a).equals(readFileSync(b))
  } catch {
    return false
  }
}

function lastLines(text: string, n = 6): string {
  return text.trim().split('\n').slice(-n).join('\n')
}
