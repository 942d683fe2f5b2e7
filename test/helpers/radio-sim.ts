// A simulated LoRa channel between two radios: it stands in for the radio
// hardware only. Each side writes KISS frames as to an RNode; the channel
// holds each data frame for its real airtime (airtime.ts, the Semtech
// formula), drops a configured share, corrupts some (one byte flipped),
// refuses frames above the payload limit, and loses both frames when the
// two radios transmit at overlapping times (a half-duplex radio cannot hear
// while it sends). RNode's set-up commands are read and otherwise ignored.
// The randomness is seeded, so a failing run can be replayed.
//
// `radioPair` joins two in-memory ports (RadioPort) for unit tests;
// `ptyRadioPair` joins two pseudo-terminals made by socat, so two real
// nodes open them as serial devices.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { airtimeMs, type LoraModulation } from '../../server/transports/lora/airtime.js'
import { CMD_DATA, KissDecoder, kissEncode } from '../../server/transports/lora/kiss.js'
import type { RadioPort } from '../../server/transports/lora/radio-port.js'
import { seededRandom } from './seeded-random.js'
import { waitFor } from './wait.js'

export interface ChannelOptions {
  modulation: LoraModulation
  /** The radio's largest payload; larger frames are refused. */
  payload: number
  /** Share of frames lost, 0 to 1. */
  loss?: number
  /** Share of frames that arrive with one byte flipped. */
  corrupt?: number
  seed?: number
}

export interface ChannelStats {
  frames: number
  dropped: number
  corrupted: number
  refused: number
  collided: number
  airtimeMs: number
}

interface OnAir {
  from: 0 | 1
  start: number
  end: number
  collided: boolean
}

export class RadioChannel {
  readonly stats: ChannelStats = { frames: 0, dropped: 0, corrupted: 0, refused: 0, collided: 0, airtimeMs: 0 }
  private readonly random: () => number
  private readonly decoders = [new KissDecoder(4096), new KissDecoder(4096)]
  private readonly txFreeAt = [0, 0]
  private air: OnAir[] = []
  private readonly sinks: ((bytes: Buffer) => void)[] = [() => {}, () => {}]
  private timers = new Set<NodeJS.Timeout>()
  /** Every frame put on the air, in order: which side sent it and its bytes (its first byte is the link's frame kind). */
  readonly onAir: { from: 0 | 1; data: Buffer }[] = []

  constructor(private readonly o: ChannelOptions) {
    this.random = seededRandom(o.seed ?? 1)
  }

  /** Where the bytes for side `side`'s serial port go. */
  attach(side: 0 | 1, sink: (bytes: Buffer) => void): void {
    this.sinks[side] = sink
  }

  /** Bytes side `side` wrote to its radio's serial port. */
  write(side: 0 | 1, chunk: Buffer): void {
    for (const f of this.decoders[side]!.push(chunk)) {
      if (f.command !== CMD_DATA) continue
      if (f.data.length > this.o.payload) {
        this.stats.refused++
        continue
      }
      this.transmit(side, f.data)
    }
  }

  private transmit(from: 0 | 1, data: Buffer): void {
    const now = Date.now()
    const ms = airtimeMs(this.o.modulation, data.length)
    const start = Math.max(now, this.txFreeAt[from]!)
    const end = start + ms
    this.txFreeAt[from] = end
    const me: OnAir = { from, start, end, collided: false }
    for (const other of this.air) {
      if (other.from !== from && other.start < end && start < other.end) {
        other.collided = true
        me.collided = true
      }
    }
    this.air.push(me)
    this.onAir.push({ from, data })
    this.stats.frames++
    this.stats.airtimeMs += ms
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      this.air = this.air.filter((a) => a.end > Date.now() - 60_000)
      if (me.collided) return void this.stats.collided++
      if (this.random() < (this.o.loss ?? 0)) return void this.stats.dropped++
      let out = data
      if (this.random() < (this.o.corrupt ?? 0)) {
        out = Buffer.from(data)
        out[Math.floor(this.random() * out.length)]! ^= 1 << Math.floor(this.random() * 8)
        this.stats.corrupted++
      }
      this.sinks[from === 0 ? 1 : 0]!(kissEncode(out))
    }, end - now)
    this.timers.add(timer)
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}

/** Two in-memory radio ports joined by a simulated channel. */
export function radioPair(o: ChannelOptions): { channel: RadioChannel; ports: [RadioPort, RadioPort] } {
  const channel = new RadioChannel(o)
  const port = (side: 0 | 1): RadioPort => {
    const listeners: ((b: Buffer) => void)[] = []
    channel.attach(side, (b) => listeners.forEach((l) => l(b)))
    return {
      write: async (b) => channel.write(side, b),
      onData: (l) => void listeners.push(l),
      close: async () => {},
    }
  }
  return { channel, ports: [port(0), port(1)] }
}

/**
 * Two pseudo-terminals, each a serial device a node opens as its radio,
 * joined by a simulated channel. socat makes each pty and carries its other
 * end on stdio to this process.
 */
export async function ptyRadioPair(o: ChannelOptions): Promise<{ channel: RadioChannel; ttys: [string, string]; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'op-radio-'))
  const channel = new RadioChannel(o)
  const ttys: [string, string] = [join(dir, 'radio-a'), join(dir, 'radio-b')]
  const procs: ChildProcess[] = []
  for (const side of [0, 1] as const) {
    const p = spawn('socat', [`PTY,link=${ttys[side]},raw,echo=0`, 'STDIO'], { stdio: ['pipe', 'pipe', 'inherit'] })
    p.stdout!.on('data', (c: Buffer) => channel.write(side, c))
    p.stdin!.on('error', () => {})
    channel.attach(side, (b) => void p.stdin!.write(b))
    procs.push(p)
  }
  await waitFor('the simulated radios\' ptys', async () => ttys.every((t) => existsSync(t)))
  return {
    channel,
    ttys,
    async stop() {
      channel.close()
      await Promise.all(procs.map((p) => new Promise<void>((r) => {
        if (p.exitCode !== null || p.signalCode !== null) return r()
        p.once('exit', () => r())
        p.kill()
      })))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
