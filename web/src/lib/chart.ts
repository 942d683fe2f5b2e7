// Scaling for the dashboard's bar chart of messages per day: pure numbers,
// so the SVG component only draws.
import type { TrafficDay } from './api.ts'

export const SERIES = ['received', 'sent', 'local'] as const
export type Series = (typeof SERIES)[number]

/** The smallest "nice" axis maximum ≥ max: 1, 2, 5 × 10^n. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1
  const pow = 10 ** Math.floor(Math.log10(max))
  for (const m of [1, 2, 5, 10]) if (m * pow >= max) return m * pow
  return 10 * pow
}

/** Up to `count` + 1 evenly spaced whole-number ticks from 0 to top. */
export function ticks(top: number, count = 4): number[] {
  const step = Math.max(1, Math.ceil(top / count))
  const out: number[] = []
  for (let v = 0; v <= top; v += step) out.push(v)
  return out
}

export interface Bar {
  series: Series
  value: number
  x: number
  y: number
  width: number
  height: number
}
export interface DayColumn {
  day: string
  label: string
  bars: Bar[]
}
export interface ChartLayout {
  top: number
  ticks: Array<{ value: number; y: number }>
  columns: DayColumn[]
  /** Where the plot area is inside the view box. */
  plot: { x: number; y: number; width: number; height: number }
}

/**
 * Lays out grouped bars (received, sent, local) per day in a width × height
 * view box, leaving `left` for the axis labels and `bottom` for the days.
 */
export function layout(days: TrafficDay[], width: number, height: number, left = 28, bottom = 18): ChartLayout {
  const plot = { x: left, y: 4, width: width - left, height: height - bottom - 4 }
  const max = Math.max(0, ...days.flatMap((d) => SERIES.map((s) => d[s])))
  const top = niceMax(max)
  const scale = (v: number) => (v / top) * plot.height
  const slot = days.length ? plot.width / days.length : plot.width
  const gap = Math.min(4, slot * 0.2)
  const barW = Math.max(1, (slot - gap) / SERIES.length)
  const columns = days.map((d, i) => ({
    day: d.day,
    label: d.day.slice(8, 10).replace(/^0/, ''),
    bars: SERIES.map((s, j) => {
      const h = scale(d[s])
      return { series: s, value: d[s], x: plot.x + i * slot + gap / 2 + j * barW, y: plot.y + plot.height - h, width: barW, height: h }
    }),
  }))
  return { top, ticks: ticks(top).map((value) => ({ value, y: plot.y + plot.height - scale(value) })), columns, plot }
}
