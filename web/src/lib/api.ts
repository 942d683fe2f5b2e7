// The one typed API module: every request the pages make goes through here,
// typed by the server's own schemas (docs/web-api.md is generated from them
// too). It adds the CSRF header to changes, marks polling as background (so
// it does not keep a session alive), and sends the person to the login page
// when the session has gone.
import type { OutpostEvent, OutpostEvents, EventKind } from '../../../server/events/types.ts'

export type { OutpostEvent, OutpostEvents, EventKind }

// The types come from the server's own schemas (server/web/schemas.ts), as
// the event map does: type-only imports, so no server code enters the bundle.
import type {
  Accounts,
  AccountsParams,
  AccountUplinkInput,
  AnyEvent,
  AuthState,
  ClockReport,
  Credentials,
  CsrfAnswer,
  Dashboard,
  DkimAnswer,
  DkimRequest,
  Ejected,
  Invite,
  NewAccount,
  NewTransport,
  Peer,
  PeerAdded,
  PeerRemoved,
  PublicInfo,
  Queue,
  Radio,
  QueueParams,
  Retried,
  Route,
  RouteAdded,
  Run,
  SchedulePreview,
  SelfCard,
  Settings,
  SettingsPatch,
  SettingsSaved,
  SmarthostInput,
  Started,
  Traffic,
  Transport,
  TransportKind,
  Uplink,
  UplinkPatch,
  Usb,
} from '../../../server/web/schemas.ts'

// Every shape of the contract, for the pages (Run, Transport, Uplink, …).
export type * from '../../../server/web/schemas.ts'

/** An answer that was not 2xx, with the server's own message (`{error}`) when it gave one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface RequestOptions {
  /** Polling and other requests a person did not make: they must not extend the session. */
  background?: boolean
}

export interface ApiOptions {
  fetch?: typeof fetch
  /** Called on a 401 from anything but the login itself: the session is gone. */
  onUnauthorized?: () => void
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const enc = encodeURIComponent

export class Api {
  /** The session's CSRF token, from /api/auth/state, setup or login. */
  csrf: string | undefined
  private readonly fetchImpl: typeof fetch
  onUnauthorized: () => void

  constructor(opts: ApiOptions = {}) {
    // Bound: a bare window.fetch called as a method of another object throws "Illegal invocation".
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.onUnauthorized = opts.onUnauthorized ?? (() => {})
  }

  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (CHANGES.has(method) && this.csrf) headers['x-csrf-token'] = this.csrf
    if (opts.background) headers['x-outpost-background'] = '1'
    let res: Response
    try {
      res = await this.fetchImpl(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      })
    } catch (err) {
      throw new ApiError(0, `The box did not answer (${(err as Error).message}). Are you still on its Wi-Fi?`)
    }
    const text = await res.text()
    let data: unknown
    try {
      data = text ? JSON.parse(text) : undefined
    } catch {
      data = undefined
    }
    if (!res.ok) {
      const message = (data as { error?: string } | undefined)?.error ?? `${method} ${path} failed: HTTP ${res.status}`
      // A wrong password at login is a 401 too, but that is not a lost session.
      if (res.status === 401 && path !== '/api/auth/login' && path !== '/api/auth/setup') {
        this.csrf = undefined
        this.onUnauthorized()
      }
      const retry = Number(res.headers.get('retry-after'))
      throw new ApiError(res.status, message, Number.isFinite(retry) && retry > 0 ? retry : undefined)
    }
    return data as T
  }

  get<T>(path: string, opts?: RequestOptions) {
    return this.request<T>('GET', path, undefined, opts)
  }

  // ---- auth ----
  authState() {
    return this.get<AuthState>('/api/auth/state').then((s) => {
      this.csrf = s.csrf
      return s
    })
  }
  /** Claims the box: `code` is its setup code, as the owner typed it. */
  async setup(password: string, code: string) {
    const r = await this.request<CsrfAnswer>('POST', '/api/auth/setup', { password, code })
    this.csrf = r.csrf
    return r
  }
  async login(password: string) {
    const r = await this.request<CsrfAnswer>('POST', '/api/auth/login', { password })
    this.csrf = r.csrf
    return r
  }
  async logout() {
    await this.request<void>('POST', '/api/auth/logout')
    this.csrf = undefined
  }
  changePassword(current: string, password: string) {
    return this.request<void>('POST', '/api/auth/password', { current, password })
  }

  // ---- dashboard ----
  dashboard(opts?: RequestOptions) {
    return this.get<Dashboard>('/api/dashboard', opts)
  }
  clock(opts?: RequestOptions) {
    return this.get<ClockReport>('/api/clock', opts)
  }
  /** The floor back to this node's own time (after peers' bundles pushed it ahead). */
  resetClock() {
    return this.request<ClockReport>('POST', '/api/clock/reset', {})
  }
  traffic(days = 14, opts?: RequestOptions) {
    return this.get<Traffic>(`/api/traffic?days=${days}`, opts)
  }

  // ---- accounts ----
  accounts(params: AccountsParams = {}, opts?: RequestOptions) {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
    return this.get<Accounts>(`/api/accounts${q.size ? `?${q}` : ''}`, opts)
  }
  addAccount(a: NewAccount) {
    return this.request<Credentials>('POST', '/api/accounts', a)
  }
  resetPassword(address: string, password?: string) {
    return this.request<Credentials>('POST', `/api/accounts/${enc(address)}/password`, password ? { password } : {})
  }
  removeAccount(address: string) {
    return this.request<void>('DELETE', `/api/accounts/${enc(address)}`)
  }
  invites(opts?: RequestOptions) {
    return this.get<Invite[]>('/api/invites', opts)
  }
  addInvite(expiresInHours: number, maxUses: number) {
    return this.request<Invite>('POST', '/api/invites', { expiresInHours, maxUses })
  }
  removeInvite(code: string) {
    return this.request<void>('DELETE', `/api/invites/${enc(code)}`)
  }

  // ---- public ----
  publicInfo() {
    return this.get<PublicInfo>('/api/public/info')
  }
  join(code: string, name: string) {
    return this.request<Credentials>('POST', '/api/public/join', { code, name })
  }

  // ---- peers and routes ----
  self() {
    return this.get<SelfCard>('/api/self')
  }
  peers(opts?: RequestOptions) {
    return this.get<Peer[]>('/api/peers', opts)
  }
  addPeer(card: string, replace = false) {
    return this.request<PeerAdded>('POST', '/api/peers', replace ? { card, replace } : { card })
  }
  removePeer(name: string) {
    return this.request<PeerRemoved>('DELETE', `/api/peers/${enc(name)}`)
  }
  routes(opts?: RequestOptions) {
    return this.get<Route[]>('/api/routes', opts)
  }
  addRoute(domain: string, peer: string) {
    return this.request<RouteAdded>('POST', '/api/routes', { domain, peer })
  }
  removeRoute(domain: string) {
    return this.request<void>('DELETE', `/api/routes/${enc(domain)}`)
  }

  // ---- transports ----
  transports(opts?: RequestOptions) {
    return this.get<Transport[]>('/api/transports', opts)
  }
  transportKinds() {
    return this.get<TransportKind[]>('/api/transports/kinds')
  }
  addTransport(t: NewTransport) {
    return this.request<Transport>('POST', '/api/transports', t)
  }
  setSchedule(id: number, schedule: string) {
    return this.request<Transport>('PATCH', `/api/transports/${id}`, { schedule })
  }
  removeTransport(id: number) {
    return this.request<void>('DELETE', `/api/transports/${id}`)
  }
  runTransport(id: number) {
    return this.request<Started>('POST', `/api/transports/${id}/run`)
  }
  transportRuns(id: number) {
    return this.get<Run[]>(`/api/transports/${id}/runs`)
  }
  radios(opts?: RequestOptions) {
    return this.get<Radio[]>('/api/radios', opts)
  }
  schedulePreview(schedule: string) {
    return this.get<SchedulePreview>(`/api/schedule/preview?schedule=${enc(schedule)}`)
  }

  // ---- queue ----
  queue(params: QueueParams = {}, opts?: RequestOptions) {
    const q = new URLSearchParams()
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
    return this.get<Queue>(`/api/queue${q.size ? `?${q}` : ''}`, opts)
  }
  retryPeer(peer: string) {
    return this.request<Retried>('POST', `/api/queue/${enc(peer)}/retry`)
  }
  discard(peer: string, messageId: string) {
    return this.request<void>('DELETE', `/api/queue/${enc(peer)}/${enc(messageId)}`)
  }

  // ---- USB ----
  usb(opts?: RequestOptions) {
    return this.get<Usb>('/api/usb', opts)
  }
  offload(path: string) {
    return this.request<Started>('POST', '/api/usb/offload', { path })
  }
  eject(path: string) {
    return this.request<Ejected>('POST', '/api/usb/eject', { path })
  }

  // ---- activity ----
  events(q: { before?: number; kinds?: EventKind[]; limit?: number } = {}) {
    const p = new URLSearchParams()
    if (q.before) p.set('before', String(q.before))
    if (q.kinds?.length) p.set('kinds', q.kinds.join(','))
    if (q.limit) p.set('limit', String(q.limit))
    const qs = p.toString()
    return this.get<AnyEvent[]>(`/api/events${qs ? `?${qs}` : ''}`)
  }

  // ---- Internet uplink ----
  uplink(opts?: RequestOptions) {
    return this.get<Uplink>('/api/uplink', opts)
  }
  setUplink(patch: UplinkPatch) {
    return this.request<Uplink>('PATCH', '/api/uplink', patch)
  }
  setSmarthost(s: SmarthostInput) {
    return this.request<Uplink>('PUT', '/api/uplink/smarthost', s)
  }
  clearSmarthost() {
    return this.request<Uplink>('DELETE', '/api/uplink/smarthost')
  }
  setUplinkAccount(a: AccountUplinkInput) {
    return this.request<Uplink>('PUT', '/api/uplink/account', a)
  }
  clearUplinkAccount() {
    return this.request<Uplink>('DELETE', '/api/uplink/account')
  }
  dkim(opts: DkimRequest = {}) {
    return this.request<DkimAnswer>('POST', '/api/dkim', opts)
  }

  // ---- settings ----
  settings() {
    return this.get<Settings>('/api/settings')
  }
  saveSettings(patch: SettingsPatch) {
    return this.request<SettingsSaved>('PATCH', '/api/settings', patch)
  }
}

/** The app's one instance; main.ts points its onUnauthorized at the login page. */
export const api = new Api()
