// The radio panel's numbers: airtime as a person reads it, and the bars of
// airtime per hour scaled into the chart's view box (pure, so the SVG
// component only draws).
import type { Radio } from './api.ts'
import { niceMax } from './chart.ts'

/** Airtime in seconds with one decimal below a minute, else minutes and seconds. */
export function airtime(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)} min ${s % 60} s`
}

/** The hour of day an hour bucket starts at, local time, as "14:00". */
export function hourLabel(hour: number): string {
  return `${String(new Date(hour).getHours()).padStart(2, '0')}:00`
}

export interface HourBar {
  hour: number
  airtimeMs: number
  x: number
  y: number
  width: number
  height: number
}

export interface AirtimeLayout {
  /** The axis maximum in seconds. */
  topSeconds: number
  bars: HourBar[]
  plot: { x: number; y: number; width: number; height: number }
}

/** Lays out one bar per hour in a width × height view box, leaving `left` for the axis and `bottom` for the hours. */
export function airtimeLayout(hours: Radio['hours'], width: number, height: number, left = 36, bottom = 18): AirtimeLayout {
  // 10 px above the plot: the top tick's label sits there.
  const plot = { x: left, y: 10, width: width - left, height: height - bottom - 10 }
  const topSeconds = niceMax(Math.max(0, ...hours.map((h) => h.airtimeMs)) / 1000)
  const slot = hours.length ? plot.width / hours.length : plot.width
  const gap = Math.min(2, slot * 0.2)
  const bars = hours.map((h, i) => {
    const height = (h.airtimeMs / 1000 / topSeconds) * plot.height
    return { hour: h.hour, airtimeMs: h.airtimeMs, x: plot.x + i * slot + gap / 2, y: plot.y + plot.height - height, width: Math.max(1, slot - gap), height }
  })
  return { topSeconds, bars, plot }
}

/** What the chart shows, in words: for its aria-label. */
export function airtimeSummary(hours: Radio['hours']): string {
  const total = hours.reduce((s, h) => s + h.airtimeMs, 0)
  if (total === 0) return `Airtime per hour over the last ${hours.length} hours: none, the radio did not transmit`
  const busiest = hours.reduce((a, h) => (h.airtimeMs > a.airtimeMs ? h : a))
  return `Airtime per hour over the last ${hours.length} hours: ${airtime(total)} in all, the busiest hour ${airtime(busiest.airtimeMs)} at ${hourLabel(busiest.hour)}`
}
