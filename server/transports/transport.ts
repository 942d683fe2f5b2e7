// One interface for every carrier of bundles. A transport belongs to one
// peer; running it sends what waits for that peer (mail and acks) and brings
// in whatever the carrier holds for this node. Carriers that push into the
// node by themselves (NNCP's exec handler, an HTTP POST from the peer) call
// `outpost import -` or the import API, and their run() only sends.
import type { Exchange } from '../exchange/exchange.js'
import type { Progress } from '../exchange/run.js'
import type { NodeContext } from '../context/context.js'
import type { Exec } from '../base/exec.js'
import { OutpostError } from '../base/errors.js'
import { countDue } from '../outbox/queue-query.js'
import { resendPolicyFor } from '../outbox/resend-policy.js'
import { WIDE, type LinkWidth } from '../outbox/link-width.js'

export class TransportConfigError extends OutpostError {
  override name = 'TransportConfigError'
}

export interface TransportRunContext {
  node: NodeContext
  exchange: Exchange
  peer: string
  /** The transport being run (its id in `outpost transport list`). */
  transportId?: number
  exec: Exec
  log(line: string): void
  progress?: Progress
  /** How wide this carrier is (its driver's default, or its `narrow` and `max_message_kib` settings); wide when not given. */
  link?: LinkWidth
}

export interface RunReport {
  sentBundles: number
  sentBytes: number
  receivedBundles: number
  receivedBytes: number
  /** One line a person can read: what went where. */
  detail: string
}

export interface ConfigKey {
  doc: string
  required?: boolean
  default?: string
  /** A password or API key: the web admin never shows it back. */
  secret?: boolean
}

export interface TransportDriver<C = Record<string, string>> {
  kind: string
  /** One paragraph for `transport add --help` and the docs. */
  doc: string
  /** A cron expression (node-cron syntax, seconds optional), or `event`: run as soon as mail waits. */
  defaultSchedule: string
  configKeys: Record<string, ConfigKey>
  /**
   * Set on a carrier that is narrow by nature (a LoRa radio): the largest
   * message it takes by default, and why that figure. Any carrier can be
   * made narrow, or wide again, by its `narrow` and `max_message_kib`
   * settings (linkKeys).
   */
  narrow?: { maxMessageKib: number; why: string }
  /** Checks the settings given with `transport add` and fills in defaults; throws TransportConfigError naming the key. */
  parseConfig(raw: Record<string, string>): C
  run(ctx: TransportRunContext, config: C): Promise<RunReport>
}

/**
 * On a narrow carrier that does not say its own limit: room for chat text,
 * receipts and long texts with quotes, but not photos or voice messages.
 */
export const NARROW_DEFAULT_KIB = 64

/** The settings every carrier takes, whatever its kind: how wide it is (server/outbox/link-width.ts). */
export function linkKeys(driver: Pick<TransportDriver, 'narrow'>): Record<string, ConfigKey> {
  const n = driver.narrow
  return {
    narrow: {
      doc: 'yes: a narrow link, which carries messages up to max_message_kib, chat text and receipts first, and holds larger ones (photos, files) for a wider carrier to the same peer; no: everything goes, oldest first' +
        (n ? `. This kind is narrow unless set to no` : ''),
      default: n ? 'yes' : 'no',
    },
    max_message_kib: {
      doc: `the largest message in KiB a narrow carrier takes (default ${n?.maxMessageKib ?? NARROW_DEFAULT_KIB}${n ? `: ${n.why}` : ''}); setting it makes the carrier narrow`,
    },
  }
}

/** A driver's own settings and the ones every carrier takes, as `transport help` and the web admin list them. */
export function allConfigKeys(driver: Pick<TransportDriver, 'configKeys' | 'narrow'>): Record<string, ConfigKey> {
  return { ...driver.configKeys, ...linkKeys(driver) }
}

/** The settings without the width ones: what the driver's parseConfig checks. */
export function withoutLinkKeys(raw: Record<string, string>): Record<string, string> {
  const { narrow: _n, max_message_kib: _m, ...rest } = raw
  return rest
}

/**
 * How wide a carrier is, from its driver's nature and its settings; throws
 * TransportConfigError naming the key. `max_message_kib` makes any carrier
 * narrow; `narrow=no` makes even a radio wide.
 */
export function linkWidth(driver: Pick<TransportDriver, 'kind' | 'narrow'>, raw: Record<string, string>): LinkWidth {
  // An empty value (a form's untouched field) is no setting.
  const n = raw.narrow || undefined
  if (n !== undefined && n !== 'yes' && n !== 'no') throw new TransportConfigError(`${driver.kind}: narrow is yes or no, not "${n}"`)
  const m = raw.max_message_kib || undefined
  let kib: number | undefined
  if (m !== undefined) {
    kib = Number(m)
    if (!Number.isInteger(kib) || kib < 1 || kib > 1024 * 1024) throw new TransportConfigError(`${driver.kind}: max_message_kib must be a whole number of KiB from 1 to 1048576, not "${m}"`)
    if (n === 'no') throw new TransportConfigError(`${driver.kind}: max_message_kib applies to a narrow carrier; drop it, or drop narrow=no`)
  }
  const narrow = n === 'yes' || kib !== undefined || (n === undefined && driver.narrow !== undefined)
  if (!narrow) return WIDE
  return { narrow: true, maxMessageBytes: (kib ?? driver.narrow?.maxMessageKib ?? NARROW_DEFAULT_KIB) * 1024 }
}

/** Checks required keys, refuses unknown ones and applies defaults from the driver's table. */
export function checkConfigKeys(driver: Pick<TransportDriver, 'kind' | 'configKeys'>, raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of Object.keys(raw)) {
    if (!(key in driver.configKeys)) throw new TransportConfigError(`${driver.kind}: unknown setting "${key}" (known: ${[...Object.keys(driver.configKeys), 'narrow', 'max_message_kib'].join(', ')})`)
  }
  for (const [key, spec] of Object.entries(driver.configKeys)) {
    const v = raw[key] ?? spec.default
    if (v === undefined || v === '') {
      if (spec.required) throw new TransportConfigError(`${driver.kind}: setting "${key}" is required: ${spec.doc}`)
      continue
    }
    out[key] = v
  }
  return out
}

/**
 * What a driver passes to `exportPeer`: the carrier's name for the events,
 * and progress as messages sent of those due under its resend policy when
 * the run began.
 */
export function sendOptions(ctx: TransportRunContext, via: string): { via: string; link: LinkWidth; onMessages?: (n: number) => void } {
  const progress = ctx.progress
  const link = ctx.link ?? WIDE
  if (!progress) return { via, link }
  const total = countDue(ctx.node.db, ctx.peer, resendPolicyFor(via), ctx.exchange.clock.now(), link)
  let done = 0
  return { via, link, onMessages: (n) => progress((done += n), total, `sent to ${ctx.peer}`) }
}
