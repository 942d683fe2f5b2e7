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
  /** Checks the settings given with `transport add` and fills in defaults; throws TransportConfigError naming the key. */
  parseConfig(raw: Record<string, string>): C
  run(ctx: TransportRunContext, config: C): Promise<RunReport>
}

/** Checks required keys, refuses unknown ones and applies defaults from the driver's table. */
export function checkConfigKeys(driver: Pick<TransportDriver, 'kind' | 'configKeys'>, raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of Object.keys(raw)) {
    if (!(key in driver.configKeys)) throw new TransportConfigError(`${driver.kind}: unknown setting "${key}" (known: ${Object.keys(driver.configKeys).join(', ') || 'none'})`)
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
export function sendOptions(ctx: TransportRunContext, via: string): { via: string; onMessages?: (n: number) => void } {
  const progress = ctx.progress
  if (!progress) return { via }
  const total = countDue(ctx.node.db, ctx.peer, resendPolicyFor(via), ctx.exchange.clock.now())
  let done = 0
  return { via, onMessages: (n) => progress((done += n), total, `sent to ${ctx.peer}`) }
}
