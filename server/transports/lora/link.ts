// The link protocol between two nodes over one LoRa channel (frames.ts has
// the frames). A bundle goes as numbered fragments in bursts of `window`
// frames; the last of each burst asks for an ACK, which names every
// fragment held (a selective ACK), and the next burst carries only what is
// missing. A transfer starts with a QUERY, so a bundle whose transfer broke
// off (the link dropped, a run ended, the node restarted) resumes from what
// the receiver kept on disk (reassembly.ts). The receiver imports a bundle
// only when every fragment is held and the whole hashes to the transfer id:
// delivered whole or not at all.
//
// The radio is half duplex and both nodes may have something to send.
// Before each burst the sender waits until the channel is quiet (the peer's
// burst has ended), then a random jitter; an ACK that does not come is
// asked for again after a random back-off that doubles with each miss, as
// in ALOHA. Every frame is charged to the airtime budget first
// (duty-cycle.ts) and waits when the hour's share is spent.
//
// Once the receiver's ACK says it takes them, the fragments go as SHORT
// frames, without the link id, total and count the QUERY already said
// (frames.ts). The receiver keeps the plan of each transfer it heard a
// QUERY or full DATA frame of since its radio opened, and takes a SHORT
// frame only for one of those; a SHORT frame it cannot place is ignored,
// and the sender, whose poll then goes unanswered, asks again with a QUERY.
import { airtimeMs, type LoraModulation } from './airtime.js'
import type { AirtimeBudget } from './duty-cycle.js'
import {
  ACK_DEFERRED, ACK_DONE, ACK_HEADER, ACK_IMPORTING, ACK_PARTIAL, ACK_REFUSED, CRC_LENGTH,
  decodeFrame, encodeFrame, fragmentPlan, linkId, transferId, type LinkFrame,
} from './frames.js'
import { KissDecoder, kissEncode, CMD_DATA } from './kiss.js'
import type { RadioPort } from './radio-port.js'
import { hasBit, type Reassembly } from './reassembly.js'

export interface LinkOptions {
  port: RadioPort
  self: string
  peer: string
  /** The radio's largest payload in bytes (222 for an RNode at its defaults). */
  payload: number
  modulation: LoraModulation
  budget: AirtimeBudget
  store: Reassembly
  /** Takes in a whole bundle; resolves to ACK_DONE, ACK_DEFERRED or ACK_REFUSED. */
  deliver(bundle: Buffer, id: string): Promise<number>
  /** Fragments per burst before an ACK is asked for. */
  window?: number
  /** ACKs missed in a row before the link counts as down. */
  maxMisses?: number
  random?: () => number
  log?: (line: string) => void
  /** The longest a frame may wait for the airtime budget; past it, sending stops for this session. */
  maxBudgetWaitMs?: number
  /** Whether this node's deliver() takes compact carriage forms (bundle/compact.ts): said in the flags of every QUERY and DATA frame it sends. */
  takesCompact?: boolean
  /**
   * Whether this node sends and takes SHORT data frames (frames.ts); true
   * by default. false behaves as a node of an older version: it never says
   * it can send them, nor that it takes them.
   */
  shortData?: boolean
}

export type SendOutcome = 'done' | 'deferred' | 'refused' | 'down' | 'budget'

export interface LinkStats {
  framesSent: number
  framesResent: number
  framesReceived: number
  framesBad: number
  acksMissed: number
  airtimeMs: number
  bytesOnAir: number
  bundlesSent: number
  bundlesReceived: number
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)))

/** Time the serial line and the other side's software take, beyond airtime. */
const TURNAROUND_MS = 400

export class RadioLink {
  readonly stats: LinkStats = { framesSent: 0, framesResent: 0, framesReceived: 0, framesBad: 0, acksMissed: 0, airtimeMs: 0, bytesOnAir: 0, bundlesSent: 0, bundlesReceived: 0 }
  /** When a frame was last heard from the peer (ms since the epoch); 0 never. */
  lastHeardAt = 0
  /**
   * Whether the peer takes compact carriage forms, by the flags of the last
   * QUERY or DATA frame heard from it (undefined: none heard yet). A peer of
   * an older version never sets the flag, and one that goes back to an
   * older version stops setting it.
   */
  peerTakesCompact: boolean | undefined
  private readonly link: Buffer
  private readonly decoder: KissDecoder
  private readonly window: number
  private readonly maxMisses: number
  private readonly random: () => number
  private readonly log: (line: string) => void
  private busyUntil = 0
  private txChain: Promise<unknown> = Promise.resolve()
  private ackWaiter: { id: string; count: number; resolve: (f: Extract<LinkFrame, { kind: 'ack' }>) => void } | undefined
  private importingIds = new Set<string>()
  private closed = false
  private readonly maxFrameMs: number
  private readonly ackMs: number
  /**
   * The transfers this link heard a QUERY or full DATA frame of since it
   * was opened, by id: what a SHORT frame of theirs leaves out. Never
   * restored from disk: after a restart the sender is made to send a QUERY
   * first, so a SHORT frame is never placed by a guess.
   */
  private readonly plans = new Map<string, { total: number; count: number }>()

  constructor(private readonly o: LinkOptions) {
    this.link = linkId(o.self, o.peer)
    this.decoder = new KissDecoder(Math.max(o.payload, 64) + 16)
    this.window = o.window ?? 8
    this.maxMisses = o.maxMisses ?? 8
    this.random = o.random ?? Math.random
    this.log = o.log ?? (() => {})
    this.maxFrameMs = airtimeMs(o.modulation, o.payload)
    this.ackMs = airtimeMs(o.modulation, Math.min(o.payload, ACK_HEADER + CRC_LENGTH + 32))
    o.port.onData((chunk) => {
      for (const f of this.decoder.push(chunk)) if (f.command === CMD_DATA) this.onFrame(f.data)
    })
  }

  close(): void {
    this.closed = true
  }

  /** Whether a received bundle is being imported: the run must not end under it. */
  importing(): boolean {
    return this.importingIds.size > 0
  }

  /** Waits for the channel to be quiet and the budget to allow the frame, sends it, and waits out its airtime (the radio is busy until then). */
  private transmit(f: LinkFrame, opts: { resend?: boolean; urgent?: boolean } = {}): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      const bytes = encodeFrame(f)
      if (bytes.length > this.o.payload) throw new Error(`a ${f.kind} frame of ${bytes.length} bytes is larger than the radio's payload of ${this.o.payload}`)
      const ms = airtimeMs(this.o.modulation, bytes.length)
      if (!opts.urgent) while (Date.now() < this.busyUntil) await sleep(this.busyUntil - Date.now())
      const wait = this.o.budget.waitMs(ms)
      if (wait > (this.o.maxBudgetWaitMs ?? 0)) return false
      if (wait > 0) await sleep(wait)
      if (this.closed) return false
      this.o.budget.charge(ms)
      await this.o.port.write(kissEncode(bytes))
      this.stats.framesSent++
      if (opts.resend) this.stats.framesResent++
      this.stats.airtimeMs += ms
      this.stats.bytesOnAir += bytes.length
      await sleep(ms)
      return true
    }
    const p = this.txChain.then(run, run)
    this.txChain = p.catch(() => undefined)
    return p
  }

  /** Whether this link takes SHORT frames: on unless the options say it behaves as an older version. */
  private get shortData(): boolean {
    return this.o.shortData !== false
  }

  /** Remembers (or forgets) the plan of transfer `id`, for its SHORT frames. */
  private plan(id: string, p: { total: number; count: number } | undefined): void {
    this.plans.delete(id)
    if (!p) return
    this.plans.set(id, p)
    // A few transfers are open at a time (reassembly.ts keeps 4): the oldest plans go.
    if (this.plans.size > 16) this.plans.delete(this.plans.keys().next().value!)
  }

  private onFrame(raw: Buffer): void {
    const decoded = decodeFrame(raw)
    // A SHORT frame is placed by the plan its transfer's QUERY gave, or not at all.
    const plan = decoded?.kind === 'short' && this.shortData ? this.plans.get(decoded.id.toString('hex')) : undefined
    const f: LinkFrame | undefined = decoded?.kind === 'short'
      ? plan && { kind: 'data', poll: decoded.poll, takesCompact: decoded.takesCompact, sendsShort: true, link: this.link, id: decoded.id, total: plan.total, index: decoded.index, count: plan.count, data: decoded.data }
      : decoded
    if (!f || !f.link.equals(this.link)) {
      this.stats.framesBad++
      return
    }
    this.stats.framesReceived++
    this.lastHeardAt = Date.now()
    if (f.kind === 'ack') {
      // An ACK answers the transfer as the sender framed it (its fragment count): one about another plan of the same id is not ours.
      if (this.ackWaiter && this.ackWaiter.id === f.id.toString('hex') && this.ackWaiter.count === f.count) this.ackWaiter.resolve(f)
      return
    }
    this.peerTakesCompact = f.takesCompact === true
    const id = f.id.toString('hex')
    // The ACK says it takes SHORT frames only to a sender that said it can send them.
    const short = this.shortData && f.sendsShort === true
    if (f.kind === 'data') {
      // The peer's burst goes on until its polling frame: keep quiet till then.
      this.busyUntil = f.poll ? 0 : Date.now() + this.maxFrameMs + TURNAROUND_MS
      if (this.o.store.doneStatus(id) === undefined && !this.importingIds.has(id)) {
        if (!this.o.store.put(id, f.total, f.count, f.index, f.data)) {
          // A fragment that disagrees with what is held: its plan is not trusted for SHORT frames.
          if (!plan) this.plan(id, undefined)
          if (f.poll) void this.answer(f.id, f.count, false, f.total > this.o.store.maxBytes ? ACK_REFUSED : ACK_PARTIAL)
          return
        }
      }
      if (!plan) this.plan(id, { total: f.total, count: f.count })
      if (f.poll) void this.answer(f.id, f.count, short)
      return
    }
    // A query opens a transfer (or resumes one): answer with what is held.
    this.busyUntil = 0
    if (this.o.store.doneStatus(id) === undefined && !this.importingIds.has(id) && !this.o.store.open(id, f.total, f.count)) {
      this.plan(id, undefined)
      void this.answer(f.id, f.count, false, f.total > this.o.store.maxBytes ? ACK_REFUSED : ACK_PARTIAL)
      return
    }
    this.plan(id, { total: f.total, count: f.count })
    void this.answer(f.id, f.count, short)
  }

  /** Answers a poll or query: done, importing, or the held fragments; `short` says this node takes SHORT frames for the transfer. A whole bundle starts its import here. */
  private async answer(idBuf: Buffer, count: number, short: boolean, forced?: number): Promise<void> {
    const id = idBuf.toString('hex')
    let status = forced ?? this.o.store.doneStatus(id) ?? (this.importingIds.has(id) ? ACK_IMPORTING : ACK_PARTIAL)
    if (status === ACK_PARTIAL && forced === undefined && this.o.store.isComplete(id)) {
      status = ACK_IMPORTING
      this.startImport(id)
    }
    const { base, bitmap } = status === ACK_PARTIAL ? this.o.store.ackState(id, this.o.payload - ACK_HEADER - CRC_LENGTH) : { base: 0, bitmap: Buffer.alloc(0) }
    // A short random pause: the sender's radio turns from transmit to receive.
    await sleep(20 + this.random() * 80)
    // Answers run beside the run's own sending: a radio that fails here (unplugged) must not take the process down; the sender's next write reports it.
    await this.transmit({ kind: 'ack', status, takesShort: short, link: this.link, id: idBuf, count, base, bitmap }, { urgent: true }).catch((err: Error) => this.log(`lora: answering ${this.o.peer} failed: ${err.message}`))
  }

  private startImport(id: string): void {
    const bundle = this.o.store.take(id)
    if (!bundle) return
    this.importingIds.add(id)
    void this.o
      .deliver(bundle, id)
      .then((status) => {
        if (status === ACK_DONE) {
          this.o.store.markDone(id, ACK_DONE)
          this.stats.bundlesReceived++
        } else if (status === ACK_REFUSED) {
          // Answered refused from now on: the sender stops and sends its mail another way.
          this.o.store.markDone(id, ACK_REFUSED)
        }
        // Deferred: the whole bundle stays held, and the sender's next query imports it again.
      })
      .catch((err: Error) => this.log(`lora: importing bundle ${id} from ${this.o.peer} failed: ${err.message}; it is kept and imported again when the peer asks`))
      .finally(() => this.importingIds.delete(id))
  }

  /** Waits for the ACK of transfer `id`, at most `ms`. */
  private awaitAck(id: string, count: number, ms: number): Promise<Extract<LinkFrame, { kind: 'ack' }> | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ackWaiter = undefined
        resolve(undefined)
      }, ms)
      this.ackWaiter = {
        id,
        count,
        resolve: (f) => {
          clearTimeout(timer)
          this.ackWaiter = undefined
          resolve(f)
        },
      }
    })
  }

  /** How long to wait for an ACK after the polling frame has left. */
  private ackTimeoutMs(): number {
    return 100 + this.ackMs + TURNAROUND_MS * 2 + this.maxFrameMs
  }

  /** Sends one bundle whole, resuming what the peer already holds. */
  async send(bundle: Buffer): Promise<SendOutcome> {
    const idBuf = transferId(bundle)
    const id = idBuf.toString('hex')
    const plan = fragmentPlan(bundle.length, this.o.payload)
    if (plan.count > 0xffff) return 'refused'
    const held = new Uint8Array(plan.count)
    const sentOnce = new Uint8Array(plan.count)
    let misses = 0
    let importWaits = 0
    const takesCompact = this.o.takesCompact === true
    const sendsShort = this.shortData
    // Whether the receiver's last ACK said it takes SHORT frames for this transfer.
    let peerShort = false
    const query = (): LinkFrame => ({ kind: 'query', takesCompact, sendsShort, link: this.link, id: idBuf, total: bundle.length, count: plan.count })
    let poll: LinkFrame = query()
    let pollIsResend = false
    for (;;) {
      if (this.closed) return 'down'
      // Jitter before taking the channel, so two senders that waited for the same quiet moment rarely start together.
      await sleep(this.random() * this.maxFrameMs * 0.5)
      if (!(await this.transmit(poll, { resend: pollIsResend }))) return 'budget'
      const ack = await this.awaitAck(id, plan.count, this.ackTimeoutMs())
      if (!ack) {
        this.stats.acksMissed++
        if (++misses >= this.maxMisses) return 'down'
        // Back off a random time that doubles with each miss: the peer may be transmitting, or another burst collided.
        await sleep(this.random() * this.maxFrameMs * 2 ** Math.min(misses, 5))
        // Ask again with a QUERY: 24 bytes, where resending the last fragment would cost a whole frame.
        poll = query()
        pollIsResend = true
        continue
      }
      misses = 0
      peerShort = sendsShort && ack.takesShort === true
      if (ack.status === ACK_DONE) {
        this.stats.bundlesSent++
        return 'done'
      }
      if (ack.status === ACK_DEFERRED) return 'deferred'
      if (ack.status === ACK_REFUSED) return 'refused'
      if (ack.status === ACK_IMPORTING) {
        // Whole at the peer and being imported: ask again after a while.
        if (++importWaits > 30) return 'down'
        await sleep(Math.min(1000 * 2 ** Math.min(importWaits - 1, 4), 10_000))
        poll = query()
        pollIsResend = false
        continue
      }
      // The ACK says what the receiver holds now: it may have lost what it
      // held before (a transfer it dropped, whose bytes did not hash to the
      // id), so what it no longer names goes again.
      held.fill(0)
      for (let i = 0; i < ack.base && i < plan.count; i++) held[i] = 1
      for (let i = 0; i < ack.bitmap.length * 8 && ack.base + i < plan.count; i++) if (hasBit(ack.bitmap, i)) held[ack.base + i] = 1
      // The next burst: missing fragments, in order, within the span the ACK could speak of.
      const span = ack.base + (this.o.payload - ACK_HEADER - CRC_LENGTH) * 8
      const burst: number[] = []
      for (let i = ack.base; i < plan.count && i < span && burst.length < this.window; i++) if (!held[i]) burst.push(i)
      if (burst.length === 0) {
        // Everything held but no import yet: a query makes the peer start it.
        poll = query()
        pollIsResend = false
        continue
      }
      const frames = burst.map((index, k): Extract<LinkFrame, { kind: 'data' | 'short' }> => {
        const data = bundle.subarray(index * plan.size, Math.min((index + 1) * plan.size, bundle.length))
        const poll = k === burst.length - 1
        return peerShort
          ? { kind: 'short', poll, takesCompact, id: idBuf, index, data }
          : { kind: 'data', poll, takesCompact, sendsShort, link: this.link, id: idBuf, total: bundle.length, index, count: plan.count, data }
      })
      for (const f of frames.slice(0, -1)) {
        const index = f.index
        if (!(await this.transmit(f, { resend: sentOnce[index] === 1 }))) return 'budget'
        sentOnce[index] = 1
      }
      poll = frames[frames.length - 1]!
      pollIsResend = sentOnce[burst[burst.length - 1]!] === 1
      sentOnce[burst[burst.length - 1]!] = 1
    }
  }
}

