// Summaries of latency samples. Nearest-rank percentiles: with 50 samples the
// p99 is the slowest one, which is what a user would remember.
export interface Summary {
  n: number
  p50: number
  p99: number
  min: number
  max: number
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN }
}

export function ms(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(0)} ms` : 'n/a'
}

export function ratio(ours: number, baseline: number): string {
  return Number.isFinite(ours) && Number.isFinite(baseline) && baseline !== 0 ? (ours / baseline).toFixed(2) : 'n/a'
}
