// The one websocket client: /api/ws pushes each new OutpostEvent as a JSON
// frame. It reconnects with a growing delay when the box restarts or the
// phone's Wi-Fi blinks, and hands each event to the handlers of its kind.
import type { AnyEvent, EventKind, OutpostEvent } from './api.ts'

type Handler<K extends EventKind> = (e: OutpostEvent<K>) => void
/** Gets any kind; switching on `e.kind` narrows `e.data` to that kind's fields. */
type AnyHandler = (e: AnyEvent) => void

export interface LiveOptions {
  url?: string
  WebSocket?: typeof WebSocket
  /** The server closed the socket because the session ended (close code 4401): show the login. */
  onSessionEnded?: () => void
  /** First reconnect delay; it doubles up to maxDelayMs. */
  minDelayMs?: number
  maxDelayMs?: number
}

/** The server's close code for "the session has ended" (server/web/routes/events.ts). */
export const WS_SESSION_ENDED = 4401

export class Live {
  /** True while the socket is open: the pages show "live" or "reconnecting…". */
  connected = $state(false)
  private ws: WebSocket | undefined
  // The handlers are bookkeeping, not state: no page renders them, so plain collections.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  private handlers = new Map<EventKind | '*', Set<AnyHandler>>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private delay: number
  private wanted = false
  private readonly opts: Required<Pick<LiveOptions, 'minDelayMs' | 'maxDelayMs'>> & LiveOptions
  onSessionEnded: () => void

  constructor(opts: LiveOptions = {}) {
    this.opts = { minDelayMs: 1000, maxDelayMs: 30_000, ...opts }
    this.delay = this.opts.minDelayMs
    this.onSessionEnded = opts.onSessionEnded ?? (() => {})
  }

  /** Opens the socket (after login); stays connected until stop(). */
  start(): void {
    if (this.wanted) return
    this.wanted = true
    this.open()
  }

  /** After logout: close and do not come back. */
  stop(): void {
    this.wanted = false
    clearTimeout(this.timer)
    this.timer = undefined
    const ws = this.ws
    this.ws = undefined
    ws?.close()
    this.connected = false
  }

  on<K extends EventKind>(kind: K, fn: Handler<K>): () => void {
    return this.add(kind, fn as unknown as AnyHandler)
  }

  onAny(fn: AnyHandler): () => void {
    return this.add('*', fn)
  }

  private add(key: EventKind | '*', fn: AnyHandler): () => void {
    let set = this.handlers.get(key)
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, as the map above
    if (!set) this.handlers.set(key, (set = new Set()))
    set.add(fn)
    return () => set.delete(fn)
  }

  /** Hands one event to its handlers; also used by tests and by pages that replay history. */
  dispatch(e: AnyEvent): void {
    for (const key of [e.kind, '*'] as const) {
      for (const fn of this.handlers.get(key) ?? []) {
        try {
          fn(e)
        } catch (err) {
          // One broken page handler must not stop the others from hearing the event.
          console.error(`handler for ${e.kind} failed`, err)
        }
      }
    }
  }

  private url(): string {
    if (this.opts.url) return this.opts.url
    const l = window.location
    return `${l.protocol === 'https:' ? 'wss:' : 'ws:'}//${l.host}/api/ws`
  }

  private open(): void {
    const WS = this.opts.WebSocket ?? globalThis.WebSocket
    let ws: WebSocket
    try {
      ws = new WS(this.url())
    } catch {
      this.retry()
      return
    }
    this.ws = ws
    ws.onopen = () => {
      if (this.ws !== ws) return
      this.connected = true
      this.delay = this.opts.minDelayMs
    }
    ws.onmessage = (m: MessageEvent) => {
      if (this.ws !== ws) return
      let e: AnyEvent
      try {
        // The server sends what its bus emits, typed by the same event map.
        e = JSON.parse(String(m.data)) as AnyEvent
      } catch {
        console.error('the box sent a frame that is not JSON', m.data)
        return
      }
      if (e && typeof e.kind === 'string') this.dispatch(e)
    }
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return
      this.ws = undefined
      this.connected = false
      // Reconnecting would only be refused again: the person must log in.
      if (ev?.code === WS_SESSION_ENDED) {
        this.stop()
        this.onSessionEnded()
        return
      }
      this.retry()
    }
    // An error is always followed by close, which does the reconnecting.
    ws.onerror = () => {}
  }

  private retry(): void {
    if (!this.wanted || this.timer) return
    const wait = this.delay
    this.delay = Math.min(this.delay * 2, this.opts.maxDelayMs)
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.wanted) this.open()
    }, wait)
  }
}

export const live = new Live()
