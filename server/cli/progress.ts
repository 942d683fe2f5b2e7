// A progress bar for long work (export, import), drawn on stderr when it is
// a terminal; silent otherwise, so scripts and logs get only the summary.
export function progressBar(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  /** How done and total read: counts by default; import counts bytes of bundle files. */
  counts: (done: number, total: number) => string = (done, total) => `${done}/${total}`,
): (done: number, total: number, what: string) => void {
  if (!stream.isTTY) return () => undefined
  let last = 0
  return (done, total, what) => {
    const now = Date.now()
    if (done < total && now - last < 80) return
    last = now
    const width = 28
    const frac = total > 0 ? Math.min(1, done / total) : 1
    const filled = Math.round(frac * width)
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled)
    const line = `${label} ${bar} ${String(Math.round(frac * 100)).padStart(3)}% ${counts(done, total)} ${what}`.slice(0, (stream.columns ?? 100) - 1)
    stream.write(`\r\x1b[2K${line}`)
    if (done >= total) stream.write('\n')
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86400)}d`
}
