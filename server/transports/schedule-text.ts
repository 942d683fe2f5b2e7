// A transport's schedule read out in plain English for the web admin, so a
// person setting "0 8 * * 1,5" sees "at 08:00 on Monday and Friday" before
// saving it. Pure: node-cron checks validity (service.ts checkSchedule);
// this only reads what is valid, and says the expression back verbatim for
// the shapes it does not put into words, rather than guess.
import { EVENT_SCHEDULE } from './service.js'

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** One cron field: any value, every n-th from a start, or a set of values and ranges. */
type Field = { kind: 'any' } | { kind: 'step'; step: number; from: number } | { kind: 'set'; parts: ({ at: number } | { from: number; to: number })[] }

class Unreadable extends Error {}

function number(token: string, names?: string[]): number {
  const named = names?.findIndex((n) => token.toLowerCase().startsWith(n) && /^[a-z]+$/i.test(token)) ?? -1
  if (named >= 0) return named + (names === MONTH_NAMES ? 1 : 0)
  if (!/^\d+$/.test(token)) throw new Unreadable(token)
  return Number(token)
}

function field(text: string, names?: string[]): Field {
  if (text === '*') return { kind: 'any' }
  const step = /^(\*|\d+)\/(\d+)$/.exec(text)
  if (step) return { kind: 'step', step: Number(step[2]), from: step[1] === '*' ? -1 : Number(step[1]) }
  const parts = text.split(',').map((p) => {
    const range = /^(\w+)-(\w+)$/.exec(p)
    if (range) return { from: number(range[1]!, names), to: number(range[2]!, names) }
    if (p.includes('/')) throw new Unreadable(p)
    return { at: number(p, names) }
  })
  return { kind: 'set', parts }
}

/** "a", "a and b", "a, b and c". */
function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}

function values(f: Field): number[] | undefined {
  if (f.kind !== 'set' || f.parts.some((p) => !('at' in p))) return undefined
  return f.parts.map((p) => (p as { at: number }).at)
}

const two = (n: number) => String(n).padStart(2, '0')
const plural = (n: number, unit: string) => (n === 1 ? unit : `${n} ${unit}s`)

function setText(f: Field & { kind: 'set' }, name: (n: number) => string, rangeWord = 'to'): string {
  return list(f.parts.map((p) => ('at' in p ? name(p.at) : `${name(p.from)} ${rangeWord} ${name(p.to)}`)))
}

/** "on Monday and Friday", "on day 1 of the month", "in January": empty when every day. */
function daysText(dom: Field, month: Field, dow: Field): string {
  const out: string[] = []
  const dayName = (n: number) => DAYS[n % 7]!
  const days: string[] = []
  if (dom.kind === 'set') days.push(`on day ${setText(dom, String)} of the month`)
  else if (dom.kind === 'step') throw new Unreadable('day step')
  if (dow.kind === 'set') days.push(`on ${setText(dow, dayName)}`)
  else if (dow.kind === 'step') throw new Unreadable('weekday step')
  // Cron runs when either the day of the month or the weekday matches.
  if (days.length) out.push(days.join(' or '))
  if (month.kind === 'set') out.push(`in ${setText(month, (n) => MONTHS[n - 1] ?? String(n))}`)
  else if (month.kind === 'step') throw new Unreadable('month step')
  return out.join(' ')
}

function read(expr: string): string {
  const fields = expr.trim().split(/\s+/)
  if (fields.length !== 5 && fields.length !== 6) throw new Unreadable(expr)
  const [secText, minText, hourText, domText, monText, dowText] = fields.length === 6 ? fields : ['0', ...fields]
  const sec = field(secText!)
  const min = field(minText!)
  const hour = field(hourText!)
  const days = daysText(field(domText!), field(monText!, MONTH_NAMES), field(dowText!, DAY_NAMES))
  const withDays = (time: string, everyDay = false) => [time, days || (everyDay ? 'every day' : '')].filter(Boolean).join(' ')

  // Several times a minute: only the plain shapes.
  if (!(sec.kind === 'set' && values(sec)?.length === 1 && values(sec)![0] === 0)) {
    if (min.kind !== 'any' || hour.kind !== 'any') throw new Unreadable(expr)
    if (sec.kind === 'any') return withDays('every second')
    if (sec.kind === 'step' && sec.from <= 0) return withDays(`every ${plural(sec.step, 'second')}`)
    throw new Unreadable(expr)
  }

  const hourSpan = (): string => {
    if (hour.kind === 'any') return ''
    if (hour.kind === 'set' && hour.parts.length === 1 && !('at' in hour.parts[0]!)) {
      const p = hour.parts[0] as { from: number; to: number }
      return ` between ${two(p.from)}:00 and ${two(p.to)}:59`
    }
    const hs = values(hour)
    if (hs) return ` during the hour${hs.length > 1 ? 's' : ''} from ${list(hs.map((h) => `${two(h)}:00`))}`
    throw new Unreadable(expr)
  }

  if (min.kind === 'any') return withDays(`every minute${hourSpan()}`)
  if (min.kind === 'step') {
    if (min.from > 0) throw new Unreadable(expr)
    return withDays(`every ${plural(min.step, 'minute')}${hourSpan()}`)
  }
  const minutes = values(min)
  if (!minutes) throw new Unreadable(expr)
  const past = minutes.every((m) => m === 0) ? '' : ` at ${list(minutes.map((m) => `:${two(m)}`))}`
  if (hour.kind === 'any') return withDays(`every hour${past}`)
  if (hour.kind === 'step') {
    if (hour.from > 0) throw new Unreadable(expr)
    return withDays(`every ${plural(hour.step, 'hour')}${past}`)
  }
  const hours = values(hour)
  if (hours && hours.length * minutes.length <= 6) {
    const times = hours.flatMap((h) => minutes.map((m) => h * 60 + m)).sort((a, b) => a - b)
    return withDays(`at ${list(times.map((t) => `${two(Math.floor(t / 60))}:${two(t % 60)}`))}`, true)
  }
  if (hour.kind === 'set' && minutes.length === 1) return withDays(`at :${two(minutes[0]!)} past ${setText(hour, (h) => `${two(h)}:00`)}`, true)
  throw new Unreadable(expr)
}

/**
 * A short English reading of a transport's schedule: "every 15 minutes",
 * "at 06:00 every day", "at 08:00 on Monday and Friday", "when mail is
 * waiting (event)". Times are the node's local time, as node-cron runs them.
 */
export function scheduleText(schedule: string): string {
  if (schedule === EVENT_SCHEDULE) return 'when mail is waiting (event)'
  try {
    return read(schedule)
  } catch (err) {
    if (!(err instanceof Unreadable)) throw err
    return `on the cron schedule "${schedule.trim()}"`
  }
}
