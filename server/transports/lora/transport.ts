// The LoRa transport: bundles over a LoRa radio used as a serial modem (an
// RNode, or any TNC that speaks KISS). A run opens the radio, sends what
// waits for the peer over the link protocol (link.ts), takes in whatever
// the peer sends meanwhile, and stays on the air until the channel has been
// quiet for `listen_seconds`, so both nodes' runs overlap and acks can come
// back in the same session. Inside `outpost start` the radio stays open
// between runs (listener.ts) and receives at any time; a run then sends
// over that open link. See docs/transports/lora.md.
//
// Like NNCP's spool, the radio has a queue of its own on disk: a bundle is
// sealed into spool/lora/<peer>/out/ (tmp → fsync → rename) and that is
// when its messages count as having left by `lora` (the outbox's resend
// policy then waits before sending them again). The bundle file goes only
// when the peer answers that it took the bundle in, so a transfer cut off
// by a dropped link, the end of a run or a restart resumes at the next run
// from the fragments the peer kept. A bundle the peer refuses is renamed
// error.<name> and kept, never deleted.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurable } from '../../base/durable.js'
import { TransportConfigError, checkConfigKeys, sendOptions, type TransportDriver } from '../transport.js'
import { BANDWIDTHS_HZ, airtimeMs } from './airtime.js'
import { REGIONS } from './duty-cycle.js'
import { CRC_LENGTH, DATA_HEADER } from './frames.js'
import type { SendOutcome } from './link.js'
import { PeerKeys } from './peer-keys.js'
import { CompactCarriage } from './carriage.js'
import { borrowRadio, LoraSession, type RadioSettings } from './session.js'
import { WIDE } from '../../outbox/link-width.js'

/** The settings as the user gave them (keys of configKeys, defaults filled in): the service stores this and parses it again at each run. */
export type LoraConfig = Record<string, string>

/** What a run uses, read from the settings: what opening the radio needs, and how long a run stays on the air. */
export interface LoraSettings extends RadioSettings {
  region: string
  listenMs: number
  maxMs: number
  /** The airtime one bundle of mail may fill on a narrow radio (narrowBundleBytes). */
  bundleMs: number
}

const int = (kind: string, key: string, v: string, min: number, max: number): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new TransportConfigError(`${kind}: ${key} must be a whole number from ${min} to ${max}, not "${v}"`)
  return n
}

/** Where a peer's radio queue and half-received bundles live. */
export function loraSpool(spool: string, peer: string): { out: string; in: string } {
  return { out: join(spool, 'lora', peer, 'out'), in: join(spool, 'lora', peer, 'in') }
}

/** The bundles waiting in the radio's queue, oldest first; error.* and tmp files are not. */
function spooled(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((n) => /^\d{13}-/.test(n)).sort()
}

/** Checks the settings and reads them into what a run uses; throws TransportConfigError naming the key. */
export function loraSettings(c: LoraConfig): LoraSettings {
  const region = REGIONS[c.region!]
  if (!region) throw new TransportConfigError(`lora: region "${c.region}" is not one of ${Object.keys(REGIONS).join(', ')}`)
  if (!c.port!.startsWith('/')) throw new TransportConfigError(`lora: port must be a device path such as /dev/ttyACM0, not "${c.port}"`)
  if (c.firmware !== 'rnode' && c.firmware !== 'kiss') throw new TransportConfigError(`lora: firmware is rnode or kiss, not "${c.firmware}"`)
  const bw = int('lora', 'bw', c.bw!, 7800, 500000)
  if (!BANDWIDTHS_HZ.includes(bw)) throw new TransportConfigError(`lora: bw must be one of ${BANDWIDTHS_HZ.join(', ')} Hz, not ${bw}`)
  const duty = c.duty === undefined ? region.duty : Number(c.duty) / 100
  if (!(duty > 0 && duty <= 1)) throw new TransportConfigError(`lora: duty is a percentage above 0 and at most 100, not "${c.duty}"`)
  return {
    port: c.port!,
    baud: int('lora', 'baud', c.baud!, 1200, 4_000_000),
    firmware: c.firmware,
    region: c.region!,
    frequency: c.frequency === undefined ? region.frequency : int('lora', 'frequency', c.frequency, 137_000_000, 1_020_000_000),
    txpower: int('lora', 'txpower', c.txpower!, 0, 30),
    modulation: { sf: int('lora', 'sf', c.sf!, 7, 12), bw, cr: int('lora', 'cr', c.cr!, 5, 8), preamble: int('lora', 'preamble', c.preamble!, 6, 65535) },
    payload: int('lora', 'payload', c.payload!, 48, 255),
    duty,
    window: int('lora', 'window', c.window!, 1, 64),
    listenMs: int('lora', 'listen_seconds', c.listen_seconds!, 1, 3600) * 1000,
    maxMs: int('lora', 'max_seconds', c.max_seconds!, 10, 86_400) * 1000,
    maxBundleBytes: int('lora', 'max_bundle_kib', c.max_bundle_kib!, 1, 12_000) * 1024,
    bundleMs: int('lora', 'bundle_seconds', c.bundle_seconds!, 1, 3600) * 1000,
  }
}

/**
 * The mail one bundle holds on a narrow radio, in bytes as the outbox
 * counts them: as many fragments as full frames fill `bundleMs` of airtime
 * at the channel's settings (the Semtech formula, airtime.ts). A run seals
 * one bundle at a time and chooses again after each (chat first), so a chat
 * message that comes in while a bundle is on the air waits for that one
 * bundle at most. The narrow packing makes armored mail smaller than the
 * outbox counts it, so a bundle of such mail takes a little less airtime
 * than this; a message larger than this goes in a bundle of its own.
 */
export function narrowBundleBytes(s: Pick<LoraSettings, 'modulation' | 'payload' | 'bundleMs'>): number {
  const frames = Math.max(1, Math.floor(s.bundleMs / airtimeMs(s.modulation, s.payload)))
  return frames * (s.payload - DATA_HEADER - CRC_LENGTH)
}

export const loraTransport: TransportDriver<LoraConfig> = {
  kind: 'lora',
  doc: 'Bundles over a LoRa radio on a serial port (an RNode, or any KISS TNC): fragments within the radio payload, selective ACKs, resumption after a dropped link, and the region\'s duty-cycle budget. Both nodes need a radio on the same frequency and modulation; see docs/transports/lora.md.',
  // Every minute: mail waits at most a minute to go. Inside `outpost start`
  // the radio listens between runs anyway (listener.ts); a node that is
  // not running gets the radio only during runs, each on the air until the
  // channel has been quiet for listen_seconds.
  defaultSchedule: '* * * * *',
  narrow: {
    maxMessageKib: 8,
    why: 'a text or receipt is about 2.3 KB; 8 KiB of mail is about 42 frames of 222 bytes, some 45 s on air at SF9/125 kHz, a little more than an hour of EU868\'s 1% budget, while a photo of 200 KB would take over a day of it',
  },
  configKeys: {
    port: { doc: 'the radio\'s serial device, e.g. /dev/ttyACM0 (or a /dev/serial/by-id/ name, which survives replugging)', required: true },
    baud: { doc: 'the serial speed; RNode firmware uses 115200', default: '115200' },
    firmware: { doc: 'rnode: set the radio\'s frequency, bandwidth, spreading factor, coding rate and power at each run (RNode firmware); kiss: a TNC set up by its own tool, sent data frames only', default: 'rnode' },
    region: { doc: `the regional plan, for the default frequency and duty cycle: ${Object.keys(REGIONS).join(', ')}`, default: 'EU868' },
    frequency: { doc: 'the channel in Hz (default: the region\'s, 869525000 in EU868); both radios must use the same' },
    sf: { doc: 'spreading factor 7–12: each step up about doubles range margin and airtime', default: '9' },
    bw: { doc: `bandwidth in Hz: ${BANDWIDTHS_HZ.join(', ')}`, default: '125000' },
    cr: { doc: 'coding rate denominator: 5–8 for 4/5–4/8', default: '5' },
    preamble: { doc: 'preamble symbols the radio sends, for airtime accounting; set it to what your firmware uses', default: '8' },
    txpower: { doc: 'transmit power in dBm (EU868: at most 14 on the common sub-bands)', default: '14' },
    payload: { doc: 'the radio\'s largest frame in bytes (222 on RNode firmware); no frame the link sends is larger', default: '222' },
    duty: { doc: 'the duty cycle in percent (default: the region\'s, 1 in EU868); the sender never exceeds it over any hour' },
    window: { doc: 'fragments sent before asking for an ACK', default: '8' },
    listen_seconds: { doc: 'a run ends once nothing was sent or heard for this long (inside `outpost start` the radio listens between runs anyway)', default: '45' },
    max_seconds: { doc: 'the longest a run keeps the radio', default: '600' },
    max_bundle_kib: { doc: 'the largest bundle taken in from the peer, in KiB', default: '1024' },
    bundle_seconds: { doc: 'on a narrow radio, the airtime one bundle of mail may fill (at the channel\'s settings: 30 s is about 5 KiB at SF9/125 kHz); a run sends one bundle at a time, chat first, so a chat message that comes in meanwhile waits for at most one such bundle', default: '30' },
  },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    loraSettings(c)
    return c
  },
  async run(ctx, raw) {
    const config = loraSettings(raw)
    const started = Date.now()
    const dirs = loraSpool(ctx.node.paths.spool, ctx.peer)
    mkdirSync(dirs.out, { recursive: true })
    const peerKeys = new PeerKeys(join(dirs.out, '..', 'peer-keys.json'))
    const carriage = new CompactCarriage(join(dirs.out, '..'))
    // Inside `outpost start` the listener holds the radio open between runs:
    // the run sends over that link. A run from the command line while the
    // node holds the port asks the node to lend it (session.ts).
    const borrowed = borrowRadio(config.port, ctx.peer)
    const session = borrowed?.session ?? (await LoraSession.openLent({ node: ctx.node, exchange: ctx.exchange, peer: ctx.peer, transportId: ctx.transportId, settings: config, inDir: dirs.in, log: ctx.log }))
    const { link, budget } = session
    const before = { ...link.stats }
    let received = 0
    let messages = 0
    let acks = 0
    let sentBundles = 0
    let sentBytes = 0
    let receivedBytes = 0
    let stopped: string | undefined
    let seq = 0
    const stopCounting = session.onDelivered((bytes) => {
      received++
      receivedBytes += bytes
    })
    try {
      let lastActivity = Date.now()
      while (Date.now() - started < config.maxMs) {
        if (!stopped && spooled(dirs.out).length === 0 && ctx.exchange.hasUnsentWorkFor(ctx.peer, ctx.link ?? WIDE)) {
          // The narrow packing (bundle/narrow/codec.ts): armor as binary, known keys by reference, a Delta Chat dictionary.
          let keysSent: Iterable<string> = []
          const narrow = { peerHasKey: (ref: string) => peerKeys.has(ref), onEncoded: (e: { keysSent: Map<string, Buffer> }) => (keysSent = [...e.keysSent.keys()]) }
          const r = await ctx.exchange.exportPeer(ctx.peer, async (name, bytes) => {
            // The sequence keeps the order the export sealed them in (chat
            // first on a narrow link) for bundles sealed within one millisecond.
            const queued = `${String(Date.now()).padStart(13, '0')}-${String(seq++).padStart(6, '0')}-${name}`
            peerKeys.sent(queued, keysSent)
            keysSent = []
            writeFileDurable(join(dirs.out, queued), bytes, 0o600)
            return `lora:${ctx.peer}/${name}`
          }, {
            ...sendOptions(ctx, 'lora'),
            narrow,
            // One bundle, sent, then choose again: what came in meanwhile
            // (chat first on a narrow radio) goes next, not after mail
            // chosen at the start of the run. On a narrow radio a bundle
            // holds what fills bundle_seconds of airtime.
            maxMailBundles: 1,
            ...(ctx.link?.narrow ? { bundleBytes: narrowBundleBytes(config) } : {}),
          })
          messages += r.messages
          acks += r.acks
        }
        const next = stopped ? undefined : spooled(dirs.out)[0]
        if (next) {
          const file = join(dirs.out, next)
          const bytes = readFileSync(file)
          // The queue keeps the bundle file; the radio carries its compact
          // form when the peer takes it (carriage.ts). The form is the same
          // for the same file, so a transfer cut off resumes.
          const carried = carriage.carried(bytes, link.peerTakesCompact)
          const outcome: SendOutcome = await link.send(carried)
          lastActivity = Date.now()
          if (outcome === 'done') {
            peerKeys.taken(next)
            rmSync(file)
            sentBundles++
            sentBytes += carried.length
          } else if (outcome === 'refused') {
            renameSync(file, join(dirs.out, `error.${next}`))
            peerKeys.forget()
            ctx.log(`lora: ${ctx.peer} refused bundle ${next} (${bytes.length} bytes: larger than it takes by radio, or referring to Autocrypt keys it no longer holds, which now go whole); kept as error.${next}, its mail goes again by another carrier or after the resend timeout`)
          } else {
            stopped = outcome === 'deferred' ? `${ctx.peer} could not take bundles now; they wait for the next run`
              : outcome === 'budget' ? `the airtime budget is spent (${(budget.usedMs() / 1000).toFixed(1)} of ${(budget.limitMs() / 1000).toFixed(0)} s in the last hour); the rest waits`
              : `${ctx.peer} stopped answering; the transfer resumes at the next run`
          }
          continue
        }
        if (Date.now() - Math.max(lastActivity, link.lastHeardAt) >= config.listenMs && !link.importing()) break
        await new Promise((r) => setTimeout(r, 200))
      }
    } finally {
      // What the peer said of the compact form this run, kept for the next.
      carriage.peerTakesCompact(link.peerTakesCompact)
      stopCounting()
      if (borrowed) {
        session.flush()
        borrowed.release()
      } else {
        await session.close()
      }
    }
    const s = Object.fromEntries(Object.entries(link.stats).map(([k, v]) => [k, v - before[k as keyof typeof before]])) as typeof before
    const waiting = spooled(dirs.out).length
    const detail = `sent ${sentBundles} bundles (${messages} messages and ${acks} acks sealed this run) and received ${received} from ${ctx.peer} by radio; ` +
      `${s.framesSent} frames sent (${s.framesResent} resent, ${(s.airtimeMs / 1000).toFixed(1)} s on air), ${s.acksMissed} ACKs missed, ${s.framesBad} frames unreadable; ` +
      `airtime ${(budget.usedMs() / 1000).toFixed(1)} of ${(budget.limitMs() / 1000).toFixed(0)} s this hour` +
      (waiting ? `; ${waiting} bundles wait in the radio queue` : '') + (stopped ? `; stopped sending: ${stopped}` : '')
    return { sentBundles, sentBytes, receivedBundles: received, receivedBytes, detail }
  },
}

/** Airtime of one full frame at this config, for the docs and `transport help`. */
export function frameAirtimeMs(config: Pick<LoraSettings, 'modulation' | 'payload'>): number {
  return airtimeMs(config.modulation, config.payload)
}
