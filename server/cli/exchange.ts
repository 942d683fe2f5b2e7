// `outpost export`, `import`, `queue` and `status`: the bundle exchange from
// the command line. A USB stick, a Syncthing folder or any carrier's staging
// folder is just DIR; `import -` takes one bundle on stdin for carriers that
// pipe (NNCP's exec handler, Filespooler's queue-process).
import { openNode } from '../context/context.js'
import { describeClock } from '../base/clock.js'
import { resolveDataDir } from '../base/paths.js'
import { ensureIdentity } from '../identity/keys.js'
import { Exchange, exchangeServices } from '../exchange/exchange.js'
import { MAX_BUNDLE_FILE_BYTES, type ImportResult } from '../exchange/import.js'
import { listQuarantine, quarantine, quarantineLimits, QuarantineFullError } from '../base/quarantine.js'
import { recordSafely } from '../events/record.js'
import { yggdrasilAddress } from '../base/yggdrasil.js'
import { formatBytes, progressBar } from './progress.js'
import { printQueue, type QueueViewOptions } from './queue-view.js'
import { TransportService } from '../transports/service.js'
import { outboxTotals, peerTotals } from '../outbox/queue-query.js'

async function withExchange<T>(data: unknown, work: (x: Exchange, node: ReturnType<typeof openNode>) => Promise<T>): Promise<T> {
  const node = openNode(resolveDataDir(data as string | undefined))
  for (const w of node.warnings) console.error(`warning: ${w}`)
  try {
    await ensureIdentity(node.paths)
    return await work(new Exchange(node, exchangeServices(node)), node)
  } finally {
    node.close()
  }
}

export async function cmdExport(dir: string, data: unknown): Promise<number> {
  return withExchange(data, async (x) => {
    const results = await x.exportTo(dir, progressBar('export'))
    const messages = results.reduce((n, r) => n + r.messages, 0)
    const acks = results.reduce((n, r) => n + r.acks, 0)
    const bytes = results.reduce((n, r) => n + r.bytes, 0)
    const bundles = results.reduce((n, r) => n + r.bundles, 0)
    for (const r of results) console.log(`  ${r.peer}: ${r.messages} messages, ${r.acks} acks${r.relayed ? `, ${r.relayed} relayed bundles` : ''} in ${r.bundles} bundles (${formatBytes(r.bytes)})`)
    console.log(`exported ${messages} messages and ${acks} acks in ${bundles} bundles (${formatBytes(bytes)}) to ${dir}`)
    return 0
  })
}

function describe(r: ImportResult): string {
  const o = r.outcome
  const name = r.file.split('/').pop()
  switch (o.kind) {
    case 'imported':
      return o.header.kind === 'ack'
        ? `${name}: ${o.acked} acks from ${o.header.origin}`
        : `${name}: ${o.delivered} delivered here, ${o.forwarded} forwarded, ${o.duplicates} already had, ${o.quarantined} quarantined`
    case 'duplicate':
      return `${name}: already imported`
    case 'deferred':
      return `${name}: left in place, try again: ${o.reason}`
    case 'quarantined':
      return `${name}: QUARANTINED (${o.reason}) as ${o.file}`
    case 'not-for-us':
      return `${name}: for ${o.header.destination}, left in place`
    case 'relayed':
      return `${name}: for ${o.header.destination}, taken over to carry on`
    case 'skipped':
      return `${name}: SKIPPED, ${o.reason}`
  }
}

export async function cmdImport(source: string, data: unknown, opts: { area?: string } = {}): Promise<number> {
  return withExchange(data, async (x, node) => {
    let results: ImportResult[]
    if (source === '-') {
      const chunks: Buffer[] = []
      let size = 0
      for await (const c of process.stdin) {
        size += (c as Buffer).length
        if (size > MAX_BUNDLE_FILE_BYTES) throw new Error(`the bundle on stdin is larger than ${MAX_BUNDLE_FILE_BYTES} bytes`)
        chunks.push(c as Buffer)
      }
      const bytes = Buffer.concat(chunks)
      // NNCP's exec handler and Filespooler's queue-process pipe bundles in here.
      let outcome = await x.importBundle(bytes, 'stdin.obundle', { via: 'stdin' })
      // An NNCP area hands every member every packet, and NNCP itself passes
      // each one on to the area's subscribers: a bundle sealed to another
      // node is not ours to open, keep or carry. Passing it over (exit 0,
      // so NNCP lets it go) is the area working as meant, not an error.
      if (outcome.kind === 'not-for-us' && opts.area !== undefined) {
        console.log(`  stdin: bundle ${outcome.header.id} from ${outcome.header.origin} is for ${outcome.header.destination}; passed over, NNCP carries it on through area ${opts.area}`)
        return 0
      }
      // Any other carrier that hands us another node's bundle is
      // misconfigured; the bundle is kept in quarantine rather than dropped
      // when we exit 0.
      if (outcome.kind === 'not-for-us') {
        const header = outcome.header
        try {
          const file = quarantine(node.paths.quarantine, 'stdin.obundle', bytes, `not-for-us: bundle ${outcome.header.id} from ${outcome.header.origin} is addressed to ${outcome.header.destination}, not to this node; check the carrier's configuration`, undefined, quarantineLimits(node.config.storage))
          outcome = { kind: 'quarantined', reason: 'not-for-us', file }
          recordSafely(x.events, 'bundle.quarantined', { file, reason: 'not-for-us', via: 'stdin' })
        } catch (err) {
          if (!(err instanceof QuarantineFullError)) throw err
          // The carrier keeps it (exit 75) until there is room.
          outcome = { kind: 'deferred', header, reason: err.message }
        }
      }
      results = [{ file: 'stdin', outcome }]
    } else {
      results = await x.importFrom(source, progressBar('import', process.stderr, (done, total) => `${formatBytes(done)} of ${formatBytes(total)}`))
    }
    for (const r of results) console.log(`  ${describe(r)}`)
    const count = (k: string) => results.filter((r) => r.outcome.kind === k).length
    console.log(`imported ${count('imported')} bundles, ${count('duplicate')} seen before, ${count('deferred')} deferred, ${count('quarantined')} quarantined${count('skipped') ? `, ${count('skipped')} skipped` : ''}${count('relayed') ? `, ${count('relayed')} taken over for other nodes` : ''}`)
    // A deferred bundle is not an error of the input, but the caller (a
    // carrier's handler) must know to keep it: exit 75, EX_TEMPFAIL.
    if (count('deferred')) return 75
    // On stdin, a carrier (NNCP, Filespooler) hands us one bundle and keeps
    // it until we exit 0; a quarantined bundle is safely kept by us, so the
    // carrier must let it go rather than hand it over again and again.
    if (source === '-') return 0
    return count('quarantined') || count('skipped') ? 1 : 0
  })
}

export async function cmdQueue(data: unknown, opts: QueueViewOptions = {}): Promise<number> {
  return withExchange(data, async (_x, node) => {
    const transports = new TransportService(node.db, () => true)
    printQueue(node.db, { ...opts, widths: (peer) => transports.widths(peer) })
    return 0
  })
}

export async function cmdStatus(data: unknown): Promise<number> {
  return withExchange(data, async (x, node) => {
    // Counts and sums from SQL: the status line costs the same at 10 or 100 000 messages.
    const perPeer = peerTotals(node.db)
    const waiting = outboxTotals(perPeer).messages
    const c = node.config
    console.log(`node ${c.node.name} (${c.node.domain}), data in ${node.paths.data}`)
    console.log(`  accounts: ${node.accounts.count()}`)
    console.log(`  peers: ${x.peers.list().map((p) => p.name).join(', ') || 'none'}`)
    console.log(`  outbox: ${waiting} messages for ${perPeer.length} peers${waiting ? ` (${perPeer.map((p) => `${p.peer} ${p.messages}`).join(', ')})` : ''}`)
    console.log(`  acks owed: ${x.acksOwedCount()}`)
    for (const l of describeClock(node.clock.report())) console.log(`  ${l}`)
    const q = listQuarantine(node.paths.quarantine)
    console.log(`  quarantine: ${q.length} files${q.length ? ` in ${node.paths.quarantine}` : ''}`)
    console.log(`  SMTP ${c.node.host}:${c.ports.submission}, IMAP ${c.node.host}:${c.ports.imap}, web https://${c.node.host}:${c.ports.web}/`)
    const { UplinkService } = await import('../gateway/uplink.js')
    const { describeUplink } = await import('./uplink.js')
    for (const l of describeUplink(new UplinkService(node.db, node.paths.keysDir).describe(), c.gateway.enabled)) console.log(`  ${l}`)
    const ygg = yggdrasilAddress()
    if (ygg) console.log(`  yggdrasil: https://[${ygg}]:${c.ports.web}/ (peers reach this box there over the Yggdrasil overlay)`)
    return 0
  })
}

/** `outpost clock [show|reset]`: the floor, what set it, and the way back to this node's own time. */
export async function cmdClock(sub: 'show' | 'reset', data: unknown): Promise<number> {
  const node = openNode(resolveDataDir(data as string | undefined))
  try {
    const report = sub === 'reset' ? node.clock.reset() : node.clock.report()
    for (const l of describeClock(report)) console.log(l)
    return 0
  } finally {
    node.close()
  }
}
