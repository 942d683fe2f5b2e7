// `outpost radio [ID]`: each LoRa radio's state, as the web admin's radio
// panel shows it: port, channel, airtime against the duty-cycle budget, the
// last day's frames, and airtime per hour as a line of bars.
import { openNode } from '../context/context.js'
import { resolveDataDir } from '../base/paths.js'
import { TransportService } from '../transports/service.js'
import { radioState, type RadioState } from '../transports/lora/state.js'
import { TransportConfigError } from '../transports/transport.js'

const BARS = '▁▂▃▄▅▆▇█'

/** Seconds with one decimal below a minute, else minutes and seconds. */
function airtime(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)} min ${s % 60} s`
}

/** Airtime per hour as one bar each, scaled to the busiest hour; a space where the radio sent nothing. */
export function airtimeBars(hours: { airtimeMs: number }[]): string {
  const max = Math.max(...hours.map((h) => h.airtimeMs), 0)
  return hours.map((h) => (h.airtimeMs <= 0 || max === 0 ? ' ' : BARS[Math.min(BARS.length - 1, Math.floor((h.airtimeMs / max) * (BARS.length - 1) + 0.5))])).join('')
}

export function radioText(r: RadioState): string {
  const mhz = (r.frequencyHz / 1e6).toFixed(3)
  const khz = r.bandwidthHz / 1000
  const share = r.budget.limitMs > 0 ? Math.round((r.budget.usedMs / r.budget.limitMs) * 100) : 0
  const d = r.day
  return [
    `radio ${r.transportId} to ${r.peer} on ${r.port} (${r.firmware} firmware)${r.listening === null ? '' : r.listening ? ', listening' : ', not listening'}`,
    `  channel    ${mhz} MHz, SF${r.sf}, ${khz} kHz, CR 4/${r.codingRate}, ${r.txPowerDbm} dBm, ${r.payloadBytes}-byte frames; region ${r.region}, duty cycle ${r.dutyPercent}%`,
    `  airtime    ${airtime(r.budget.usedMs)} of ${airtime(r.budget.limitMs)} in the last hour (${share}% of the budget)`,
    `  last 24 h  ${airtime(d.airtimeMs)} on air; ${d.framesSent} frames sent, ${d.framesResent} resent, ${d.framesReceived} received, ${d.framesBad} unreadable, ${d.acksMissed} ACKs missed`,
    `  per hour   |${airtimeBars(r.hours)}| (24 h to now; busiest hour ${airtime(Math.max(0, ...r.hours.map((h) => h.airtimeMs)))})`,
  ].join('\n')
}

export function cmdRadio(args: string[], values: { data?: unknown; json?: unknown }): number {
  const node = openNode(resolveDataDir(values.data as string | undefined))
  try {
    const service = new TransportService(node.db, () => true)
    let list: RadioState[]
    if (args.length) {
      const id = Number(args[0])
      const t = Number.isInteger(id) ? service.get(id) : undefined
      const r = t && radioState(node, t, null)
      if (!r) throw new TransportConfigError(`transport ${args[0]} is not a LoRa radio (see \`outpost transport list\`)`)
      list = [r]
    } else {
      list = service.list().map((t) => radioState(node, t, null)).filter((r): r is RadioState => r !== undefined)
    }
    if (values.json === true) {
      console.log(JSON.stringify(args.length ? list[0] : list, null, 2))
      return 0
    }
    if (!list.length) console.error('no LoRa radios: outpost transport add PEER lora --set port=/dev/ttyACM0 (see outpost transport help)')
    else console.log(list.map(radioText).join('\n\n'))
    return 0
  } finally {
    node.close()
  }
}
