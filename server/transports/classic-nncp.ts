// The carrier to a classic peer: an Exim or Postfix node that takes plain
// batch SMTP from NNCP the way such nodes always have (its exec handler
// `rsmtp` runs `sendmail -bS`; docs/interop/exim.md). No bundle, no acks:
// NNCP encrypts the packet to the peer's node, signs it with ours, and
// carries it by calls, sticks (nncp-xfer) or relays.
//
// A message leaves the outbox once, and only once nncp-exec has queued the
// packet (exit 0): before that a failure leaves it for the next run, after
// it NNCP has it in its spool and will carry it. The one window left is a
// crash between nncp-exec's exit and the outbox's commit (crash point
// `classic.queued`): then the next run queues the batch a second time. The
// classic peer has no ledger to drop the copy, so the window is kept to one
// SQLite transaction right after the exit.
import { checkConfigKeys, TransportConfigError, type TransportDriver } from './transport.js'
import { isNncpName } from './nncp-config.js'
import { classicBatches } from './classic-batches.js'
import { countWaiting } from '../outbox/queue-query.js'
import { crashPoint } from '../base/crash-point.js'
import { recordSafely } from '../events/record.js'
import { NNCP_NODE_ID } from '../peers/service.js'

export interface ClassicNncpConfig {
  /** The peer's NNCP node: its name in our NNCP config's neigh section, or its node id. */
  node: string
  cfg?: string
  /** The exec handler in the peer's NNCP config that runs `sendmail -bS`. */
  handler: string
  /** Kept as the word the user gave, like every setting: the service stores the parsed config and parses it again at each run. */
  batch: string
  toss: 'yes' | 'no'
}

const EXEC_TIMEOUT_MS = 5 * 60_000
const TOSS_TIMEOUT_MS = 30 * 60_000

function common(config: ClassicNncpConfig): string[] {
  return [...(config.cfg ? ['-cfg', config.cfg] : []), '-noprogress']
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ') || '(no output)'
}

export const classicNncpTransport: TransportDriver<ClassicNncpConfig> = {
  kind: 'classic-nncp',
  doc: 'Plain batch SMTP to a classic peer (an Exim or Postfix node with NNCP): nncp-exec PEER rsmtp, whose handler there runs sendmail -bS. For peers added with `outpost peer add-classic`; see docs/interop/exim.md.',
  // As the NNCP transport: nncp-exec only queues a packet locally, and
  // waiting two minutes lets a burst of mail travel as one batch.
  defaultSchedule: '*/2 * * * *',
  configKeys: {
    node: { doc: 'the peer\'s NNCP node: its name in the neigh section of the NNCP config, or its 52-letter node id', required: true },
    cfg: { doc: 'the NNCP config file (default: NNCP\'s own, $NNCPCFG or /etc/nncp.hjson)' },
    handler: { doc: 'the exec handler in the peer\'s NNCP config that runs sendmail -bS', default: 'rsmtp' },
    batch: { doc: 'the most messages in one batch (one NNCP packet)', default: '100' },
    toss: { doc: 'yes: each run also runs nncp-toss, so batches that arrived are taken in; no: something else tosses', default: 'yes' },
  },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    if (!isNncpName(c.node!) && !NNCP_NODE_ID.test(c.node!)) throw new TransportConfigError(`classic-nncp: node "${c.node}" is neither an NNCP neighbour name nor a node id`)
    if (!isNncpName(c.handler!)) throw new TransportConfigError(`classic-nncp: handler "${c.handler}" is not an NNCP handler name (letters, digits, ".", "_" and "-")`)
    if (c.cfg !== undefined && !c.cfg.startsWith('/')) throw new TransportConfigError(`classic-nncp: cfg must be an absolute path, not "${c.cfg}"`)
    const batch = Number(c.batch)
    if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) throw new TransportConfigError(`classic-nncp: batch is a number of messages from 1 to 10000, not "${c.batch}"`)
    if (c.toss !== 'yes' && c.toss !== 'no') throw new TransportConfigError(`classic-nncp: toss is yes or no, not "${c.toss}"`)
    return { node: c.node!, cfg: c.cfg, handler: c.handler!, batch: c.batch!, toss: c.toss }
  },
  async run(ctx, config) {
    const { outbox, peers, events } = ctx.exchange
    const peer = peers.get(ctx.peer)
    if (!peer?.classic) throw new Error(`classic-nncp carries mail only to a classic peer, and "${ctx.peer}" is ${peer ? 'an Outpost peer: use the nncp transport' : 'not a peer'}`)

    let tossed = 0
    let tossError: string | undefined
    if (config.toss === 'yes') {
      const r = await ctx.exec('nncp-toss', common(config), { timeoutMs: TOSS_TIMEOUT_MS })
      tossed = (r.stderr.match(/Got exec from /g) ?? []).length
      if (r.code !== 0) tossError = `nncp-toss failed (exit ${r.code}); packets whose handler failed stay in NNCP's spool for the next run: ${lastLines(r.stderr || r.stdout)}`
    }

    let batches = 0
    let messages = 0
    let bytesSent = 0
    const waiting = countWaiting(ctx.node.db, ctx.peer)
    for (const { ids, bytes } of classicBatches(outbox, ctx.peer, Number(config.batch), ctx.link)) {
      const r = await ctx.exec('nncp-exec', [...common(config), '-quiet', config.node, config.handler], { input: bytes, timeoutMs: EXEC_TIMEOUT_MS })
      if (r.code !== 0) {
        throw new Error(
          `nncp-exec ${config.node} ${config.handler} failed (exit ${r.code}): ${lastLines(r.stderr || r.stdout)}; check that "${config.node}" is a neighbour in ${config.cfg ?? 'the NNCP config'} and allows exec "${config.handler}"; ${messages} messages went in ${batches} batches before, the other ${waiting - messages} stay in the outbox`,
        )
      }
      // The packet is in NNCP's spool now: it is NNCP's to carry. The
      // messages leave the outbox here, so no later run sends them again.
      crashPoint('classic.queued')
      outbox.acknowledge(ctx.peer, ids)
      batches++
      messages += ids.length
      bytesSent += bytes.length
      recordSafely(events, 'bundle.exported', { peer: ctx.peer, bundleId: `classic:${config.node}`, messages: ids.length, bytes: bytes.length, via: 'nncp-classic' }, ctx.log)
    }
    const detail = `queued ${messages} messages in ${batches} batch SMTP packets for ${config.node}${config.toss === 'yes' ? `; tossed ${tossed} packets` : ''}`
    if (tossError) throw new Error(`${tossError} (this run also ${detail})`)
    return { sentBundles: batches, sentBytes: bytesSent, receivedBundles: tossed, receivedBytes: 0, detail }
  },
}
