import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Live } from './live.svelte.ts'
import type { OutpostEvent } from './api.ts'

class FakeSocket {
  static all: FakeSocket[] = []
  onopen: (() => void) | null = null
  onmessage: ((m: { data: string }) => void) | null = null
  onclose: ((ev: { code: number }) => void) | null = null
  onerror: (() => void) | null = null
  closed = false
  constructor(readonly url: string) {
    FakeSocket.all.push(this)
  }
  close() {
    this.closed = true
  }
  // What the server side does:
  open() {
    this.onopen?.()
  }
  send(e: unknown) {
    this.onmessage?.({ data: typeof e === 'string' ? e : JSON.stringify(e) })
  }
  drop(code = 1006) {
    this.onerror?.()
    this.onclose?.({ code })
  }
}

const delivered: OutpostEvent<'message.delivered'> = { id: 7, at: 1, kind: 'message.delivered', data: { messageId: '<m@x>', recipient: 'bob@camp.test', via: 'smtp' } }

describe('Live', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    FakeSocket.all = []
  })
  afterEach(() => vi.useRealTimers())

  const make = () => new Live({ url: 'wss://box/api/ws', WebSocket: FakeSocket as unknown as typeof WebSocket, minDelayMs: 1000, maxDelayMs: 8000 })

  it('hands each event to the handlers of its kind and to onAny', () => {
    const live = make()
    live.start()
    FakeSocket.all[0]!.open()
    expect(live.connected).toBe(true)
    const delivered1 = vi.fn()
    const runs = vi.fn()
    const any = vi.fn()
    live.on('message.delivered', delivered1)
    live.on('transport.run', runs)
    live.onAny(any)
    FakeSocket.all[0]!.send(delivered)
    expect(delivered1).toHaveBeenCalledWith(delivered)
    expect(runs).not.toHaveBeenCalled()
    expect(any).toHaveBeenCalledOnce()
  })

  it('ignores a frame that is not JSON, and a throwing handler does not stop the others', () => {
    const live = make()
    live.start()
    FakeSocket.all[0]!.open()
    const good = vi.fn()
    vi.spyOn(console, 'error').mockImplementation(() => {})
    live.on('message.delivered', () => {
      throw new Error('page bug')
    })
    live.onAny(good)
    FakeSocket.all[0]!.send('not json{')
    FakeSocket.all[0]!.send(delivered)
    expect(good).toHaveBeenCalledOnce()
  })

  it('stops calling a handler once unsubscribed', () => {
    const live = make()
    live.start()
    FakeSocket.all[0]!.open()
    const fn = vi.fn()
    const off = live.on('message.delivered', fn)
    off()
    FakeSocket.all[0]!.send(delivered)
    expect(fn).not.toHaveBeenCalled()
  })

  it('reconnects after a drop with a doubling delay, reset once connected again', () => {
    const live = make()
    live.start()
    FakeSocket.all[0]!.open()
    FakeSocket.all[0]!.drop()
    expect(live.connected).toBe(false)
    vi.advanceTimersByTime(999)
    expect(FakeSocket.all).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(FakeSocket.all).toHaveLength(2)
    FakeSocket.all[1]!.drop() // the box is still down
    vi.advanceTimersByTime(1999)
    expect(FakeSocket.all).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(FakeSocket.all).toHaveLength(3)
    FakeSocket.all[2]!.drop()
    vi.advanceTimersByTime(4000)
    FakeSocket.all[3]!.drop()
    vi.advanceTimersByTime(8000)
    FakeSocket.all[4]!.drop()
    vi.advanceTimersByTime(8000) // capped at maxDelayMs
    expect(FakeSocket.all).toHaveLength(6)
    FakeSocket.all[5]!.open()
    expect(live.connected).toBe(true)
    const fn = vi.fn()
    live.onAny(fn)
    FakeSocket.all[5]!.send(delivered)
    expect(fn).toHaveBeenCalledOnce()
    FakeSocket.all[5]!.drop()
    vi.advanceTimersByTime(1000) // back to the first delay
    expect(FakeSocket.all).toHaveLength(7)
  })

  it('does not reconnect after stop (logout)', () => {
    const live = make()
    live.start()
    FakeSocket.all[0]!.open()
    live.stop()
    expect(FakeSocket.all[0]!.closed).toBe(true)
    FakeSocket.all[0]!.drop()
    vi.advanceTimersByTime(60_000)
    expect(FakeSocket.all).toHaveLength(1)
    expect(live.connected).toBe(false)
  })

  it('stops and shows the login when the server says the session has ended (4401)', () => {
    const onSessionEnded = vi.fn()
    const live = new Live({ url: 'wss://box/api/ws', WebSocket: FakeSocket as unknown as typeof WebSocket, onSessionEnded })
    live.start()
    FakeSocket.all[0]!.open()
    FakeSocket.all[0]!.drop(4401)
    expect(onSessionEnded).toHaveBeenCalledOnce()
    vi.advanceTimersByTime(60_000)
    expect(FakeSocket.all).toHaveLength(1)
    expect(live.connected).toBe(false)
  })
})
