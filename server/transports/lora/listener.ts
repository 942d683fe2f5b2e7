// The always-on radio: inside `outpost start`, each enabled LoRa transport
// keeps its serial port open and receiving between scheduled runs. The peer
// transmits whenever its own schedule and duty cycle let it, not when ours
// happens to run; without this a bundle sent while this node's run was
// over was never heard. A run borrows the open link (session.ts), so the
// node has one owner of the port. The listener also writes the radios'
// figures to the radio log every minute and prunes it.
import type { NodeContext } from '../../context/context.js'
import type { Exchange } from '../../exchange/exchange.js'
import type { TransportInfo } from '../service.js'
import { loraSettings, loraSpool } from './transport.js'
import { holdRadio, lendRequested, LoraSession, radioBorrowed } from './session.js'
import { RadioLog } from './radio-log.js'
import type { RadioPort } from './radio-port.js'

const RELOAD_MS = 15_000
const FLUSH_MS = 60_000
const PRUNE_MS = 60 * 60 * 1000
/** How often a request to lend a radio (`outpost transport run` while the node runs) is looked for. */
const LEND_CHECK_MS = 500

export interface ListenerOptions {
  node: NodeContext
  exchange: Exchange
  /** The transports as stored (TransportService.list). */
  transports(): TransportInfo[]
  log(line: string): void
  /** Opens a port; the serial device by default (tests pass a simulated radio). */
  open?: (path: string, baud: number) => Promise<RadioPort>
  /** How often the transports are read again, in ms. */
  reloadMs?: number
}

interface Open {
  key: string
  session: LoraSession
  withdraw(): void
}

export class LoraListener {
  private readonly open = new Map<number, Open>()
  /** The last error per transport, so a radio left unplugged is logged once, not every 15 s. */
  private readonly failed = new Map<number, string>()
  private timers: NodeJS.Timeout[] = []
  private reloading: Promise<void> = Promise.resolve()
  private stopped = false
  private readonly radioLog: RadioLog

  constructor(private readonly o: ListenerOptions) {
    this.radioLog = new RadioLog(o.node.db)
  }

  /** Opens the radios now; resolves once each has been tried. */
  async start(): Promise<void> {
    this.prune()
    await this.reload()
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms)
      t.unref()
      this.timers.push(t)
    }
    every(this.o.reloadMs ?? RELOAD_MS, () => void this.reload())
    every(FLUSH_MS, () => this.flush())
    every(PRUNE_MS, () => this.prune())
    every(LEND_CHECK_MS, () => this.lend())
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    await this.reloading
    for (const [id, o] of this.open) await this.close(id, o)
  }

  /** The transports whose radio is open and listening now. */
  listening(): number[] {
    return [...this.open.keys()]
  }

  /** Reads the transports again: opens new radios, closes removed or changed ones (not while a run has them). */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.reloadNow()).catch((err: Error) => this.o.log(`lora: listener: ${err.message}`))
    return this.reloading
  }

  private async reloadNow(): Promise<void> {
    if (this.stopped) return
    const want = new Map(this.o.transports().filter((t) => t.enabled && t.kind === 'lora').map((t) => [t.id, t]))
    for (const [id, o] of this.open) {
      const t = want.get(id)
      // A radio that went away (unplugged) is closed even under a run, whose link is down already.
      if (o.session.lost !== undefined || ((!t || keyOf(t) !== o.key) && !radioBorrowed(o.session.o.settings.port))) await this.close(id, o)
    }
    const ports = new Set([...this.open.values()].map((o) => o.session.o.settings.port))
    for (const t of want.values()) {
      if (this.open.has(t.id) || lendRequested(this.o.node.paths.run, t.id)) continue
      try {
        const settings = loraSettings(t.config)
        if (ports.has(settings.port)) throw new Error(`the radio at ${settings.port} already listens for another LoRa transport; one radio serves one peer`)
        const session = await LoraSession.open({
          node: this.o.node,
          exchange: this.o.exchange,
          peer: t.peer,
          transportId: t.id,
          settings,
          inDir: loraSpool(this.o.node.paths.spool, t.peer).in,
          log: this.o.log,
          open: this.o.open,
        })
        if (this.stopped) {
          await session.close()
          return
        }
        this.open.set(t.id, { key: keyOf(t), session, withdraw: holdRadio(session) })
        ports.add(settings.port)
        this.failed.delete(t.id)
        this.o.log(`lora: transport ${t.id} listens for ${t.peer} on ${settings.port} between runs`)
      } catch (err) {
        const message = (err as Error).message
        if (this.failed.get(t.id) !== message) this.o.log(`lora: transport ${t.id} (to ${t.peer}) cannot listen: ${message}; trying again every ${(this.o.reloadMs ?? RELOAD_MS) / 1000} s`)
        this.failed.set(t.id, message)
      }
    }
  }

  private async close(id: number, o: Open): Promise<void> {
    this.open.delete(id)
    o.withdraw()
    try {
      await o.session.close()
    } catch (err) {
      this.o.log(`lora: closing the radio of transport ${id} failed: ${(err as Error).message}`)
    }
  }

  /** Closes a radio a run from the command line asks for; the next reload after that run opens it again. */
  private lend(): void {
    for (const [id, o] of this.open) {
      if (radioBorrowed(o.session.o.settings.port) || !lendRequested(this.o.node.paths.run, id)) continue
      this.o.log(`lora: transport ${id} lends its radio to a run from the command line`)
      this.open.delete(id)
      this.reloading = this.reloading.then(() => this.close(id, o))
    }
  }

  private flush(): void {
    for (const o of this.open.values()) o.session.flush()
  }

  private prune(): void {
    try {
      this.radioLog.prune()
    } catch (err) {
      this.o.log(`lora: pruning the radio log failed, will try again in an hour: ${(err as Error).message}`)
    }
  }
}

/** What must stay the same for an open radio to be kept: the settings and the peer. */
function keyOf(t: TransportInfo): string {
  return JSON.stringify([t.peer, t.config])
}
