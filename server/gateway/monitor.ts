// "As soon as the uplink comes up": a cheap probe of the gateway peer (a TCP
// connect to the address its HTTP transport uses) every few seconds. When
// it starts to answer, the peer's transports run at once, whatever their
// schedule or backoff says; each change is an uplink.online/offline event,
// and every answer moves uplink.lastOnline.
import { connect } from 'node:net'
import type { EventLog } from '../events/log.js'
import type { PeerService } from '../peers/service.js'
import type { TransportService } from '../transports/service.js'
import { peerBaseUrl } from '../transports/http.js'
import type { UplinkService } from './uplink.js'

export interface ProbeTarget {
  host: string
  port: number
}

/** Whether a TCP connection to the target opens within the timeout. */
export function tcpProbe(target: ProbeTarget, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: target.host, port: target.port })
    const done = (ok: boolean) => {
      clearTimeout(timer)
      s.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

export interface MonitorDeps {
  uplink: UplinkService
  peers: PeerService
  transports: TransportService
  events: EventLog
  /** Runs the peer's transports now (TransportScheduler.runPeer). */
  runPeer(peer: string): void
  /** Runs the email-account uplink (send, then fetch) now. */
  runAccount?(): void
  log(line: string): void
  probe?: (target: ProbeTarget) => Promise<boolean>
}

/** While an email-account uplink answers, it is also run this often (mail may come in at any time). */
export const ACCOUNT_RUN_EVERY_MS = 60_000

export class UplinkMonitor {
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private lastAccountRun = 0
  /** What the last probe reached (the uplink and its address). */
  private lastWhere: string | undefined

  constructor(private readonly deps: MonitorDeps) {}

  /** Where the gateway is reached: the URL its HTTP transport uses, else the https address on its card. */
  target(peerName: string): ProbeTarget | undefined {
    const peer = this.deps.peers.get(peerName)
    if (!peer) return undefined
    const http = this.deps.transports.list(peerName).find((t) => t.enabled && t.kind === 'http')
    try {
      const url = peerBaseUrl(peer, { url: http?.config.url, insecure_tls: 'yes' })
      const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
      return { host: url.hostname.replace(/^\[|\]$/g, ''), port }
    } catch {
      return undefined
    }
  }

  /** One probe; returns what it found (undefined: no uplink is set). */
  async probeOnce(now = Date.now): Promise<boolean | undefined> {
    const v = this.deps.uplink.describe()
    let target: ProbeTarget | undefined
    let name: string
    if (v.kind === 'gateway' && v.peer) {
      name = `gateway ${v.peer}`
      target = this.target(v.peer)
      if (!target) {
        this.deps.log(`uplink: gateway peer ${v.peer} has no address to probe; give its HTTP transport a url (\`outpost transport add ${v.peer} http --set url=https://HOST:PORT\`)`)
        return false
      }
    } else if (v.kind === 'account' && v.account) {
      // The account's SMTP server: the first thing a run needs.
      name = `account ${v.account.address}`
      target = { host: v.account.smtpHost, port: v.account.smtpPort }
    } else return undefined
    const ok = await (this.deps.probe ?? tcpProbe)(target)
    let change = this.deps.uplink.recordProbe(ok, now())
    // The address changed (its transport was edited, or removed and the
    // card's address stood in until a new one came): "online" was about
    // the old address, and this one answering is a coming-up of its own.
    const where = `${name} ${target.host}:${target.port}`
    if (ok && change === null && this.lastWhere !== undefined && this.lastWhere !== where) change = 'online'
    this.lastWhere = where
    const data = v.kind === 'gateway' ? { kind: 'gateway', peer: v.peer! } : { kind: 'account' }
    if (change === 'online') {
      this.deps.events.record('uplink.online', data)
      this.deps.log(`uplink: ${name} answers at ${target.host}:${target.port}; running its transports now`)
    } else if (change === 'offline') {
      this.deps.events.record('uplink.offline', data)
      this.deps.log(`uplink: ${name} no longer answers at ${target.host}:${target.port}`)
    }
    if (change === 'online' && v.kind === 'gateway') this.deps.runPeer(v.peer!)
    if (ok && v.kind === 'account' && (change === 'online' || now() - this.lastAccountRun >= ACCOUNT_RUN_EVERY_MS)) {
      this.lastAccountRun = now()
      this.deps.runAccount?.()
    }
    return ok
  }

  start(): void {
    // A one-second tick that probes when the interval has passed, or at once
    // when the settings changed (the CLI or the web admin set a gateway, or
    // a shorter interval): nothing waits out an old, longer interval.
    let last = 0
    let lastKey = ''
    const tick = async () => {
      if (this.stopped) return
      try {
        const v = this.deps.uplink.describe()
        const key = `${v.kind}/${v.peer}/${v.probeSeconds}`
        if (key !== lastKey || Date.now() - last >= v.probeSeconds * 1000) {
          lastKey = key
          last = Date.now()
          await this.probeOnce()
        }
      } catch (err) {
        this.deps.log(`uplink: probe failed: ${(err as Error).message}`)
      }
      if (this.stopped) return
      this.timer = setTimeout(() => void tick(), 1000)
      this.timer.unref()
    }
    void tick()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
  }
}
