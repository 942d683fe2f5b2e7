// A LoRa radio's state as a person reads it (`outpost radio`, the web
// admin): the port and channel settings, airtime used in the last hour
// against the duty-cycle budget, and the frames of the last day with an
// hour-by-hour airtime series for the chart.
import type { NodeContext } from '../../context/context.js'
import type { TransportInfo } from '../service.js'
import { radioBudget } from './duty-cycle.js'
import { RadioLog, type RadioFigures } from './radio-log.js'
import { loraSettings } from './transport.js'

export interface RadioState {
  transportId: number
  peer: string
  port: string
  /** Open and receiving between runs; null when not known (the CLI, which is not the node process). */
  listening: boolean | null
  firmware: string
  region: string
  frequencyHz: number
  sf: number
  bandwidthHz: number
  /** The coding rate's denominator: 5 is 4/5. */
  codingRate: number
  txPowerDbm: number
  payloadBytes: number
  /** The duty cycle allowed, in percent. */
  dutyPercent: number
  /** This radio's airtime in the sliding hour the budget counts, and what the budget allows in one. */
  budget: { usedMs: number; limitMs: number }
  /** The last 24 hours together. */
  day: RadioFigures
  /** Airtime per hour, the last 24 hours, oldest first. */
  hours: { hour: number; airtimeMs: number }[]
}

/** The state of a LoRa transport's radio; undefined for a transport of another kind or with settings that no longer parse. */
export function radioState(node: NodeContext, t: TransportInfo, listening: boolean | null, now = Date.now()): RadioState | undefined {
  if (t.kind !== 'lora') return undefined
  let s
  try {
    s = loraSettings(t.config)
  } catch {
    return undefined
  }
  // This radio's own budget (each radio has its own duty cycle), read
  // only: the file is written when a frame is charged.
  const budget = radioBudget(node.paths.spool, t.id, s.duty, { now: () => now, readOnly: true })
  const log = new RadioLog(node.db)
  const hours = log.hours(t.id, 24, now)
  const day = log.total(t.id, 24, now)
  return {
    transportId: t.id,
    peer: t.peer,
    port: s.port,
    listening,
    firmware: s.firmware,
    region: s.region,
    frequencyHz: s.frequency,
    sf: s.modulation.sf,
    bandwidthHz: s.modulation.bw,
    codingRate: s.modulation.cr,
    txPowerDbm: s.txpower,
    payloadBytes: s.payload,
    dutyPercent: Math.round(s.duty * 100 * 1000) / 1000,
    budget: { usedMs: Math.round(budget.usedMs()), limitMs: Math.round(budget.limitMs()) },
    day,
    hours: hours.map((h) => ({ hour: h.hour, airtimeMs: h.airtimeMs })),
  }
}
