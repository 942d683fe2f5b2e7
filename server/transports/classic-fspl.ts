// The carrier to a classic peer by Filespooler: plain batch SMTP as fspl
// jobs, for a classic node whose queue runs `sendmail -bS` on each job
// (`fspl queue-process -q Q /usr/sbin/sendmail -- -bS`), and the peer's jobs
// taken in by `outpost classic receive --peer`. See docs/interop/exim.md.
//
// A message leaves the outbox once its job is durably staged in the node's
// data dir: fspl numbers jobs as it prepares them, and a staged job is
// written into the queue by this run or the next, never lost and never
// numbered twice (the same staging as the filespooler transport). A crash
// between staging and the outbox's commit (crash point `classic.staged`)
// sends that batch a second time; Exim keeps no ledger to drop it.
import { mkdirSync, renameSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { appRoot } from '../base/app-root.js'
import { fsyncDir, writeFileDurable } from '../base/durable.js'
import { crashPoint } from '../base/crash-point.js'
import { classicBatches } from './classic-batches.js'
import { recordSafely } from '../events/record.js'
import { checkConfigKeys, TransportConfigError, type TransportDriver } from './transport.js'
import { ensureQueue, flushStaged, fsyncFile, prepareJob } from './filespooler.js'

export interface ClassicFsplConfig {
  outqueue: string
  inqueue?: string
  seqfile?: string
  /** Kept as the word the user gave: the service parses the stored config again at each run. */
  batch: string
}

const PROCESS_TIMEOUT_MS = 30 * 60 * 1000
const CLASSIC_SUMMARY = /^classic batch from \S+: (\d+) messages/gm

function absolute(key: string, v: string): string {
  if (!v.startsWith('/')) throw new TransportConfigError(`classic-fspl: ${key} must be an absolute path, not "${v}"`)
  return v
}

export const classicFsplTransport: TransportDriver<ClassicFsplConfig> = {
  kind: 'classic-fspl',
  doc: 'Plain batch SMTP to a classic peer (an Exim or Postfix node) as Filespooler jobs, which its queue hands to sendmail -bS; the peer\'s jobs in inqueue go to `outpost classic receive --peer`. For peers added with `outpost peer add-classic` without --nncp-node; see docs/interop/exim.md.',
  defaultSchedule: '*/10 * * * *',
  configKeys: {
    outqueue: { doc: 'the queue of jobs for the peer; a carrier moves the files in its jobs/ folder to the peer\'s queue', required: true },
    inqueue: { doc: 'the queue the peer\'s jobs arrive in (unset: this carrier only sends)' },
    seqfile: { doc: "fspl's sequence file for jobs to the peer (default: filespooler/<peer>/seq in the node's data dir)" },
    batch: { doc: 'the most messages in one job', default: '100' },
  },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    const outqueue = absolute('outqueue', c.outqueue!)
    const inqueue = c.inqueue ? absolute('inqueue', c.inqueue) : undefined
    if (inqueue === outqueue) throw new TransportConfigError('classic-fspl: outqueue and inqueue must be different queues')
    const batch = Number(c.batch)
    if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) throw new TransportConfigError(`classic-fspl: batch is a number of messages from 1 to 10000, not "${c.batch}"`)
    return { outqueue, ...(inqueue ? { inqueue } : {}), ...(c.seqfile ? { seqfile: absolute('seqfile', c.seqfile) } : {}), batch: c.batch! }
  },
  async run(ctx, config) {
    const { outbox, peers, events } = ctx.exchange
    const peer = peers.get(ctx.peer)
    if (!peer?.classic) throw new Error(`classic-fspl carries mail only to a classic peer, and "${ctx.peer}" is ${peer ? 'an Outpost peer: use the filespooler transport' : 'not a peer'}`)
    const state = join(ctx.node.paths.data, 'filespooler', ctx.peer)
    const staged = join(state, 'staged')
    const seqfile = config.seqfile ?? join(state, 'seq')
    mkdirSync(staged, { recursive: true })
    await ensureQueue(ctx.exec, config.outqueue, true)
    // Jobs staged by a run that stopped before queue-write come first: their numbers are taken.
    const leftOver = await flushStaged(ctx.exec, staged, config.outqueue)

    let messages = 0
    let jobs = 0
    let bytesSent = 0
    for (const { ids, bytes } of classicBatches(outbox, ctx.peer, Number(config.batch), ctx.link)) {
      const name = `classic-${Date.now()}-${jobs}`
      const input = join(state, `${name}.bsmtp`)
      writeFileDurable(input, bytes, 0o600)
      const job = join(staged, `${name}.fspl`)
      try {
        await prepareJob(ctx.exec, seqfile, input, `${job}.tmp`)
        fsyncFile(`${job}.tmp`)
        renameSync(`${job}.tmp`, job)
        fsyncDir(staged)
      } finally {
        unlinkSync(input)
      }
      // The job is on disk and will reach the queue: the batch is sent.
      crashPoint('classic.staged')
      outbox.acknowledge(ctx.peer, ids)
      jobs++
      messages += ids.length
      bytesSent += bytes.length
      recordSafely(events, 'bundle.exported', { peer: ctx.peer, bundleId: `classic-fspl:${name}`, messages: ids.length, bytes: bytes.length, via: 'fspl-classic' }, ctx.log)
    }
    const written = await flushStaged(ctx.exec, staged, config.outqueue)

    let received = 0
    let deferred = ''
    if (config.inqueue) {
      await ensureQueue(ctx.exec, config.inqueue, false)
      const receive = [process.execPath, '--', join(appRoot(), 'bin/outpost.mjs'), 'classic', 'receive', '--peer', ctx.peer, '--data', ctx.node.paths.data]
      const r = await ctx.exec('fspl', ['queue-process', '-q', config.inqueue, ...receive], { timeoutMs: PROCESS_TIMEOUT_MS })
      received = [...r.stdout.matchAll(CLASSIC_SUMMARY)].length
      // Exit 75 from the handler (the node could not deliver now) leaves the
      // job at the head of the queue, and fspl stops there: order is kept.
      if (r.code !== 0) deferred = `fspl queue-process on ${config.inqueue} stopped (exit ${r.code}); the job stays for the next run: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`
    }
    const detail = `queued ${messages} messages in ${jobs} batch SMTP jobs (${written + leftOver} written) into ${config.outqueue}${config.inqueue ? `; took ${received} batches from ${config.inqueue}` : ''}`
    if (deferred) throw new Error(`${deferred} (this run also ${detail})`)
    return { sentBundles: jobs, sentBytes: bytesSent, receivedBundles: received, receivedBytes: 0, detail }
  },
}
