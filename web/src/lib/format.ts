// How numbers and times read on the pages.

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`
}

/** "3 min ago", "in 2 h": for times within days of now. */
export function relative(at: number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return 'never'
  const d = at - now
  const abs = Math.abs(d)
  const s = Math.round(abs / 1000)
  let text: string
  if (s < 45) text = 'a few seconds'
  else if (s < 90 * 60) text = `${Math.max(1, Math.round(s / 60))} min`
  else if (s < 36 * 3600) text = `${Math.round(s / 3600)} h`
  else text = `${Math.round(s / 86400)} days`
  return d < 0 ? `${text} ago` : `in ${text}`
}

/** Age of something waiting: "12 min", "3 h", "2 days". */
export function age(since: number, now = Date.now()): string {
  return relative(since, now).replace(/ ago$/, '')
}

export function dateTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return '–'
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

export function time(at: number): string {
  return new Date(at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
}
