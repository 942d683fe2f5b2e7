// The NNCP transport. NNCP (nncpgo.org) carries packets between nodes by
// whatever link there is: a call over TCP, a USB stick (nncp-xfer), a relay.
// Outpost hands each sealed bundle to `nncp-exec PEER outpost-import`; that
// only queues an encrypted packet in NNCP's spool, and NNCP's own calls and
// transfers carry it. On the peer, nncp-toss runs the exec handler, which
// is `outpost import -` with the bundle on stdin (see nncp-config.ts and
// docs/transports/nncp.md).
//
// With `area`, the bundle goes to an NNCP multicast area instead
// (`nncp-exec area:AREA outpost-import`): every member passes it on to its
// own subscribers, so it reaches the peer through whichever box meets a
// carrier first. It is still sealed to the one peer; every other member's
// `outpost import - --area AREA` sees that and passes it over.
import { TransportConfigError, checkConfigKeys, sendOptions, type TransportDriver } from './transport.js'
import { DEFAULT_NNCP_HANDLER, isNncpName } from './nncp-config.js'

export interface NncpConfig {
  /** The peer's node name as in the `neigh` section of the NNCP config. */
  node: string
  /** The NNCP config file; undefined means NNCP's own default ($NNCPCFG, then /etc/nncp.hjson). */
  cfg?: string
  handler: string
  /** Kept as the word the user gave: the service stores the parsed config and parses it again at each run. */
  toss: 'yes' | 'no'
  /** The NNCP multicast area bundles are posted to instead of the peer's node alone. */
  area?: string
}

/** A bundle is at most a few MB of already-compressed data; queueing it is a local disk write. */
const EXEC_TIMEOUT_MS = 5 * 60_000
/** Tossing runs one `outpost import` per packet that arrived, each delivering its mail. */
const TOSS_TIMEOUT_MS = 30 * 60_000

/** The flags every NNCP command gets: the config, and no progress bars in a log. */
function common(config: NncpConfig): string[] {
  return [...(config.cfg ? ['-cfg', config.cfg] : []), '-noprogress']
}

export const nncpTransport: TransportDriver<NncpConfig> = {
  kind: 'nncp',
  doc: 'Bundles travel as NNCP exec packets (nncp-exec PEER outpost-import); NNCP carries them by its calls, nncp-xfer to a stick, or relays. The peer\'s NNCP config needs the exec handler from `outpost transport nncp-snippet`; see docs/transports/nncp.md.',
  // nncp-exec only queues a packet locally, so a run is cheap; but every
  // packet costs about 0.5 KB of NNCP overhead against ~2.3 KB for a Delta
  // Chat message, so waiting two minutes lets a burst of chat travel as one
  // bundle in one packet. Two minutes is short next to any NNCP link's own
  // schedule (calls, sticks), so it adds little to the delivery time.
  defaultSchedule: '*/2 * * * *',
  configKeys: {
    node: { doc: 'the peer\'s NNCP node name, as in the neigh section of the NNCP config', required: true },
    cfg: { doc: 'the NNCP config file (default: NNCP\'s own, $NNCPCFG or /etc/nncp.hjson)' },
    handler: { doc: 'the exec handler name in the peer\'s NNCP config', default: DEFAULT_NNCP_HANDLER },
    toss: { doc: 'yes: each run also runs nncp-toss, so packets that arrived are imported; no: something else tosses (nncp-toss -cycle, nncp-daemon -autotoss)', default: 'yes' },
    area: { doc: 'post the bundles to this NNCP multicast area (nncp-exec area:AREA) rather than to node alone; still sealed to the peer, they reach it through any member of the area (docs/transports/nncp.md, "Areas")' },
  },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    if (!isNncpName(c.node!)) throw new TransportConfigError(`nncp: node "${c.node}" is not an NNCP node name (letters, digits, ".", "_" and "-")`)
    if (!isNncpName(c.handler!)) throw new TransportConfigError(`nncp: handler "${c.handler}" is not an NNCP handler name (letters, digits, ".", "_" and "-")`)
    if (c.cfg !== undefined && !c.cfg.startsWith('/')) throw new TransportConfigError(`nncp: cfg must be an absolute path, not "${c.cfg}"`)
    if (c.toss !== 'yes' && c.toss !== 'no') throw new TransportConfigError(`nncp: toss is yes or no, not "${c.toss}"`)
    if (c.area !== undefined && !isNncpName(c.area)) throw new TransportConfigError(`nncp: area "${c.area}" is not an NNCP area name (letters, digits, ".", "_" and "-")`)
    return { node: c.node!, cfg: c.cfg, handler: c.handler!, toss: c.toss, ...(c.area !== undefined ? { area: c.area } : {}) }
  },
  async run(ctx, config) {
    const to = config.area ? `area:${config.area}` : config.node
    // Toss before sending: the acks owed for bundles that just arrived then
    // leave in this same run, rather than one schedule later.
    const from = config.area ?? config.node
    let tossed = 0
    let tossError: string | undefined
    if (config.toss === 'yes') {
      const r = await ctx.exec('nncp-toss', common(config), { timeoutMs: TOSS_TIMEOUT_MS })
      // NNCP logs one "Got exec from NODE to HANDLER" line per packet it
      // handed over; for an area's packet, the area's name stands for NODE
      // (NNCP 8.8 also sets NNCP_SENDER to the area's id, not the poster's).
      const got = new RegExp(`Got exec from ${from.replace(/[.]/g, '\\.')} to ${config.handler.replace(/[.]/g, '\\.')}\\b`, 'g')
      tossed = (r.stderr.match(got) ?? []).length
      // A failed handler (exit 75: the node could not deliver yet) leaves its
      // packet in NNCP's spool for the next toss, so nothing is lost; but the
      // run must say so, and sending goes ahead regardless.
      if (r.code !== 0) tossError = `nncp-toss failed (exit ${r.code}); packets whose import failed stay in NNCP's spool and are tried again on the next run: ${lastLines(r.stderr || r.stdout)}`
    }

    const sent = await ctx.exchange.exportPeer(ctx.peer, async (name, bytes) => {
      // The bundle is compressed and encrypted already: NNCP's compression would gain nothing.
      const r = await ctx.exec('nncp-exec', [...common(config), '-quiet', '-nocompress', to, config.handler], { input: bytes, timeoutMs: EXEC_TIMEOUT_MS })
      if (r.code !== 0) {
        const check = config.area ? `that "${config.area}" is in the areas section of` : `that "${config.node}" is a neighbour in`
        throw new Error(`nncp-exec ${to} ${config.handler} failed for bundle ${name} (exit ${r.code}): ${lastLines(r.stderr || r.stdout)}; check ${check} ${config.cfg ?? 'the NNCP config'}; the bundle's mail stays in the outbox`)
      }
      return `nncp:${to}/${name}`
    }, sendOptions(ctx, 'nncp'))

    // nncp-exec to an area queues the packet to this node itself; only a
    // toss copies it to the area's subscribers (NNCP's Multicast section),
    // so without one it would wait in the spool until the next run.
    if (config.area && config.toss === 'yes' && sent.bundles > 0) {
      const r = await ctx.exec('nncp-toss', [...common(config), '-node', 'self'], { timeoutMs: TOSS_TIMEOUT_MS })
      if (r.code !== 0) tossError = `${tossError ? `${tossError}; then ` : ''}nncp-toss -node self failed (exit ${r.code}) after posting to area ${config.area}; the packets wait in NNCP's spool for the next toss: ${lastLines(r.stderr || r.stdout)}`
    }

    const dest = config.area ? `${config.node} in area ${config.area}` : config.node
    const source = config.area ? `area ${config.area} (for this node or passed over)` : config.node
    const detail = `queued ${sent.messages} messages and ${sent.acks} acks in ${sent.bundles} NNCP packets for ${dest}${config.toss === 'yes' ? `; tossed ${tossed} bundles from ${source}` : ''}`
    if (tossError) throw new Error(`${tossError} (this run also ${detail})`)
    return { sentBundles: sent.bundles, sentBytes: sent.bytes, receivedBundles: tossed, receivedBytes: 0, detail }
  },
}

/** The end of a tool's output: where NNCP puts the line that says what went wrong. */
function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ') || '(no output)'
}
