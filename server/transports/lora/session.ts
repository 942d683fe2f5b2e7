// One open radio: the serial port, set up for the channel, with the link
// protocol on top of it, taking in whatever the peer sends. A transport run
// opens one for as long as it lasts; inside `outpost start` the listener
// (listener.ts) keeps one open between runs, and a run borrows that one
// instead, so the node has one owner of the serial port and the peer can
// reach it whenever its duty cycle lets it transmit.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NodeContext } from '../../context/context.js'
import type { Exchange } from '../../exchange/exchange.js'
import { CompactBundleError, expandBundle, isCompactForm } from '../../bundle/compact.js'
import { AirtimeBudget, radioBudget } from './duty-cycle.js'
import { ACK_DEFERRED, ACK_DONE, ACK_REFUSED } from './frames.js'
import { RadioLink } from './link.js'
import { openSerialRadio, type RadioPort } from './radio-port.js'
import { RadioCounter, RadioLog } from './radio-log.js'
import { Reassembly } from './reassembly.js'
import { rnodeSetup } from './rnode.js'
import type { LoraModulation } from './airtime.js'

/** What opening a radio needs of the transport's settings (transport.ts reads them). */
export interface RadioSettings {
  port: string
  baud: number
  firmware: 'rnode' | 'kiss'
  frequency: number
  txpower: number
  modulation: LoraModulation
  payload: number
  /** The share of airtime allowed, 0 to 1. */
  duty: number
  window: number
  maxBundleBytes: number
}

export interface LoraSessionOptions {
  node: NodeContext
  exchange: Exchange
  peer: string
  /** The transport whose radio this is: its figures go to the radio log, its airtime to its own budget file. Undefined keeps both in memory only. */
  transportId?: number
  settings: RadioSettings
  /** Where half-received bundles are kept. */
  inDir: string
  log(line: string): void
  /** Opens the port; the serial device by default. */
  open?: (path: string, baud: number) => Promise<RadioPort>
}

export class LoraSession {
  readonly link: RadioLink
  readonly budget: AirtimeBudget
  private readonly counter: RadioCounter | undefined
  private readonly delivered = new Set<(bytes: number) => void>()
  private closed = false
  /** The request this session's run made for the node to lend it the port; removed at close. */
  private lendRequest: string | undefined
  /** Why the port closed by itself (the radio was unplugged), if it did. */
  lost: string | undefined

  private constructor(
    readonly o: LoraSessionOptions,
    private readonly radio: RadioPort,
  ) {
    const s = o.settings
    // Each radio has its own duty cycle: the budget is this transport's (duty-cycle.ts).
    this.budget = o.transportId === undefined ? new AirtimeBudget(undefined, s.duty) : radioBudget(o.node.paths.spool, o.transportId, s.duty)
    this.link = new RadioLink({
      port: radio,
      self: o.node.config.node.name,
      peer: o.peer,
      payload: s.payload,
      modulation: s.modulation,
      budget: this.budget,
      store: new Reassembly(o.inDir, s.maxBundleBytes),
      window: s.window,
      log: o.log,
      takesCompact: true,
      deliver: async (carried, id) => {
        // A compact carriage form is expanded to the bundle file it stands
        // for, and that is imported as any bundle is: its signature is
        // checked on these bytes before anything is decrypted.
        let bytes = carried
        if (isCompactForm(carried)) {
          try {
            bytes = expandBundle(carried)
          } catch (err) {
            if (!(err instanceof CompactBundleError)) throw err
            const q = o.exchange.quarantineCarried(`lora-${id}.compact`, carried, 'corrupt', `from ${o.peer} by radio: ${err.message}`, 'lora')
            o.log(`lora: ${err.message} (from ${o.peer})${q.kind === 'quarantined' ? `; kept as ${q.file}` : ''}`)
            return q.kind === 'deferred' ? ACK_DEFERRED : ACK_DONE
          }
        }
        const r = await o.exchange.importBundle(bytes, `lora-${id}.obundle`, { via: 'lora' })
        if (r.kind === 'deferred') return ACK_DEFERRED
        // It refers to keys this node does not hold (its store was lost):
        // refused, the peer forgets what it thought this node holds and
        // sends the mail again with the keys whole.
        if (r.kind === 'quarantined' && r.reason === 'unknown-key') return ACK_REFUSED
        for (const fn of this.delivered) fn(carried.length)
        return ACK_DONE
      },
    })
    radio.onClose?.((err) => {
      if (this.closed) return
      this.lost = err?.message ?? 'the port closed'
      this.link.close()
      o.log(`lora: the radio at ${o.settings.port} went away (${this.lost}); it is opened again when it is back`)
    })
    this.counter = o.transportId === undefined ? undefined : new RadioCounter(new RadioLog(o.node.db), o.transportId, this.link.stats)
  }

  /** Opens the port and sets the radio's channel (RNode firmware); the link listens from here on. */
  static async open(o: LoraSessionOptions): Promise<LoraSession> {
    const s = o.settings
    let radio: RadioPort
    try {
      radio = await (o.open ?? openSerialRadio)(s.port, s.baud)
    } catch (err) {
      const message = (err as Error).message
      // serialport locks the device: a second opener is told so.
      if (/lock/i.test(message)) throw new Error(`the radio at ${s.port} is held by another program (${message}). While \`outpost start\` runs it keeps the radio open and its own runs send; use "run now" in the web admin, or stop the node first.`, { cause: err })
      throw err
    }
    try {
      if (s.firmware === 'rnode') await radio.write(rnodeSetup({ frequency: s.frequency, txPower: s.txpower, modulation: s.modulation }))
    } catch (err) {
      await radio.close()
      throw err
    }
    return new LoraSession(o, radio)
  }

  /**
   * Opens the port; when the running node holds it (the port is locked),
   * asks the node's listener to lend it: a file run/lora-lend-<transport>
   * holding this process's pid, which the listener sees within half a
   * second and answers by closing its session until the file is gone. The
   * port is tried again for up to `waitMs`.
   */
  static async openLent(o: LoraSessionOptions, waitMs = 20_000): Promise<LoraSession> {
    try {
      return await LoraSession.open(o)
    } catch (err) {
      if (o.transportId === undefined || !/held by another program/.test((err as Error).message)) throw err
      const request = lendRequestFile(o.node.paths.run, o.transportId)
      writeFileSync(request, String(process.pid))
      const deadline = Date.now() + waitMs
      for (;;) {
        await new Promise((r) => setTimeout(r, 300))
        try {
          const session = await LoraSession.open(o)
          session.lendRequest = request
          return session
        } catch (again) {
          if (Date.now() < deadline && /held by another program/.test((again as Error).message)) continue
          rmSync(request, { force: true })
          throw again
        }
      }
    }
  }

  get peer(): string {
    return this.o.peer
  }

  /** Calls `fn` with the bytes each bundle taken in whole took on the radio (its compact form, when it came so); returns how to stop. */
  onDelivered(fn: (bytes: number) => void): () => void {
    this.delivered.add(fn)
    return () => this.delivered.delete(fn)
  }

  /** Writes what the radio did since the last flush to the radio log. */
  flush(): void {
    try {
      this.counter?.flush()
    } catch (err) {
      this.o.log(`lora: recording the radio's figures failed: ${(err as Error).message}; they are counted again at the next flush`)
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.link.close()
    this.flush()
    await this.radio.close()
    if (this.lendRequest) rmSync(this.lendRequest, { force: true })
  }
}

/** Where a run from another process asks the node to lend it transport `id`'s radio. */
export function lendRequestFile(runDir: string, id: number): string {
  return join(runDir, `lora-lend-${id}`)
}

/** Whether a live process asks for transport `id`'s radio; a request left by a process that died is removed. */
export function lendRequested(runDir: string, id: number): boolean {
  const file = lendRequestFile(runDir, id)
  if (!existsSync(file)) return false
  try {
    const pid = Number(readFileSync(file, 'utf8').trim())
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, 0)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return true
    rmSync(file, { force: true })
    return false
  }
}

// The radios this process keeps open between runs, by port. Only the
// listener puts sessions here; a run borrows one, and the listener does not
// close a session while it is borrowed.
const held = new Map<string, { session: LoraSession; borrowed: number }>()

/** Makes `session` the one a run on its port borrows; returns how to withdraw it. */
export function holdRadio(session: LoraSession): () => void {
  const port = session.o.settings.port
  held.set(port, { session, borrowed: 0 })
  return () => {
    if (held.get(port)?.session === session) held.delete(port)
  }
}

/** Whether a run has the held session on `port` now. */
export function radioBorrowed(port: string): boolean {
  return (held.get(port)?.borrowed ?? 0) > 0
}

/**
 * The session this process holds open on `port`, for a run to use, or
 * undefined when there is none (the run opens the port itself). A session
 * held for another peer is refused: one radio, one link.
 */
export function borrowRadio(port: string, peer: string): { session: LoraSession; release(): void } | undefined {
  const h = held.get(port)
  if (!h) return undefined
  if (h.session.peer !== peer) throw new Error(`the radio at ${port} is in use by the LoRa transport to ${h.session.peer}; one radio serves one peer, so give the transport to ${peer} a radio of its own`)
  h.borrowed++
  let released = false
  return {
    session: h.session,
    release: () => {
      if (released) return
      released = true
      h.borrowed--
    },
  }
}
