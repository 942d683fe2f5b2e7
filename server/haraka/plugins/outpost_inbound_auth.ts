// SPF (RFC 7208) and DKIM (RFC 6376) of the mail the Internet delivers to a
// gateway's inbound port, with the evaluators of the maintained Haraka
// plugins: haraka-plugin-spf's SPF and haraka-plugin-dkim's verify stream.
// The results go into the Authentication-Results header Haraka writes
// (RFC 8601; Haraka renames any such header a client sent), where a reader
// or a filter can see them. They decide nothing: the group's own domains are
// refused as senders by outpost_policy, and a "fail" for anyone else is left
// to the recipient, as Delta Chat judges mail by its own signatures.
//
// Why not the two plugins themselves: they pick the sessions they check by
// "relaying" and skip private client addresses, while here the rule is one
// listener (the inbound port, no AUTH); the phones on the submission ports
// are never looked up, and a gateway behind a LAN router still checks.
import { createRequire } from 'node:module'
import { Writable } from 'node:stream'
import type { Connection, HarakaAddress, HarakaPlugin, Next } from '../lib/haraka-api.js'
import { guardHook } from '../lib/guard.js'
import { isInbound } from '../lib/inbound.js'
import { attachToSupervisor } from '../lib/lifecycle.js'
import { watchSettings } from '../lib/plugin-settings.js'
import type { OutpostSettings } from '../lib/settings.js'

interface Spf {
  dns_timeout_ms: number
  helo: string | undefined
  check_host(ip: string, domain: string, mailFrom: string): Promise<number>
  result(code: number): string
}

interface DkimResult {
  identity?: string
  domain?: string
  selector?: string
  result: string
  error?: string
}

type DkimVerifyStream = Writable & { debug(line: string): void }

// Resolved from the installation's node_modules at run time (Haraka's optional dependencies).
const load = (id: string): unknown => createRequire(import.meta.url)(id)

let settings: () => OutpostSettings

export function register(this: HarakaPlugin): void {
  settings = watchSettings(this)
  attachToSupervisor(settings().pidFile)
  this.register_hook('mail', 'check_spf')
  this.register_hook('data_post', 'check_dkim')
}

/** A result value must stay one token of the header (RFC 8601 §2.2). */
const token = (s: string | undefined) => String(s ?? '').replace(/[^\w.@+-]/g, '') || 'unknown'

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
    timer.unref()
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

/** The envelope sender's SPF result, or (for the null sender of a bounce) the HELO name's. */
export const check_spf = guardHook('check_spf', async function (this: HarakaPlugin, next: Next, connection: Connection, params: [HarakaAddress]) {
  const s = settings()
  if (!isInbound(connection, s.gateway)) return next()
  const helo = connection.hello?.host ?? ''
  const domain = (params[0].host ?? '').toLowerCase() || helo.toLowerCase()
  const scope = params[0].host ? 'smtp.mailfrom' : 'smtp.helo'
  let result = 'none'
  try {
    const { SPF } = load('haraka-plugin-spf') as { SPF: new () => Spf }
    const spf = new SPF()
    // Each DNS query gets part of the budget, so one black-holed server leaves time for the rest.
    spf.dns_timeout_ms = Math.max(1000, Math.floor(s.gateway.authTimeoutMs / 3))
    spf.helo = helo || undefined
    if (domain) result = spf.result(await bounded(spf.check_host(connection.remote.ip ?? '', domain, params[0].address || `postmaster@${domain}`), s.gateway.authTimeoutMs, 'the SPF check')).toLowerCase()
  } catch (err) {
    connection.loginfo(this, `SPF of ${domain} not known: ${(err as Error).message}`)
    result = 'temperror'
  }
  connection.auth_results(`spf=${token(result)} ${scope}=${token(domain)}`)
  next()
})

/** Every DKIM signature's result; "none" when the message has none. */
export const check_dkim = guardHook('check_dkim', async function (this: HarakaPlugin, next: Next, connection: Connection) {
  const s = settings()
  const txn = connection.transaction
  if (!txn || !isInbound(connection, s.gateway)) return next()
  try {
    const { DKIMVerifyStream } = load('haraka-plugin-dkim/lib/dkim.js') as {
      DKIMVerifyStream: new (opts: { timeout: number; allowed_time_skew?: number }, cb: (err: Error | null, result: string, results: DkimResult[]) => void) => DkimVerifyStream
    }
    const results = await bounded(
      new Promise<DkimResult[]>((resolve, reject) => {
        const verifier = new DKIMVerifyStream({ timeout: Math.max(1, Math.floor(s.gateway.authTimeoutMs / 1000)), allowed_time_skew: 60 }, (err, _result, all) => (err ? reject(err) : resolve(all ?? [])))
        // The stream writes each step to console.debug, which is the supervisor's log.
        verifier.debug = (line) => connection.logdebug(this, line)
        txn.message_stream.pipe(verifier, { line_endings: '\r\n' })
      }),
      s.gateway.authTimeoutMs + 1000,
      'the DKIM check',
    )
    if (results.length === 0) connection.auth_results('dkim=none')
    for (const r of results) connection.auth_results(`dkim=${token(r.result)}${r.error ? ` (${r.error.replace(/[()\\\r\n]/g, ' ').slice(0, 80)})` : ''} header.d=${token(r.domain)} header.s=${token(r.selector)}`)
  } catch (err) {
    connection.loginfo(this, `DKIM not known: ${(err as Error).message}`)
    connection.auth_results('dkim=temperror')
  } finally {
    // The stream may still be piping after a timeout; the queue step pipes it next.
    txn.message_stream.unpipe?.()
  }
  next()
})
