import { describe, expect, it, vi } from 'vitest'
import { Api, ApiError } from './api.ts'

interface Call {
  url: string
  init: RequestInit
}

function fakeFetch(answers: Array<{ status: number; body?: unknown; headers?: Record<string, string> }>) {
  const calls: Call[] = []
  const fetch = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} })
    const a = answers.shift() ?? { status: 200, body: {} }
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), { status: a.status, headers: a.headers })
  })
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls }
}
const header = (c: Call, name: string) => (c.init.headers as Record<string, string>)[name]

describe('Api', () => {
  it('sends the CSRF token from the login on every change, and never on a GET', async () => {
    const { fetch, calls } = fakeFetch([
      { status: 200, body: { csrf: 'tok-1' } },
      { status: 200, body: { address: 'a@camp.test', password: 'p', dclogin: 'dclogin:x', qrSvg: '<svg/>' } },
      { status: 200, body: [] },
      { status: 204 },
    ])
    const api = new Api({ fetch })
    await api.login('correct horse battery')
    expect(header(calls[0]!, 'x-csrf-token')).toBeUndefined()
    await api.addAccount({ name: 'alice' })
    await api.accounts()
    await api.removeAccount('alice@camp.test')
    expect(header(calls[1]!, 'x-csrf-token')).toBe('tok-1')
    expect(JSON.parse(String(calls[1]!.init.body))).toEqual({ name: 'alice' })
    expect(header(calls[2]!, 'x-csrf-token')).toBeUndefined()
    expect(calls[3]!.init.method).toBe('DELETE')
    expect(calls[3]!.url).toBe('/api/accounts/alice%40camp.test')
    expect(header(calls[3]!, 'x-csrf-token')).toBe('tok-1')
  })

  it('takes the CSRF token from /api/auth/state when the session already exists', async () => {
    const { fetch, calls } = fakeFetch([{ status: 200, body: { setup: true, loggedIn: true, csrf: 'from-state' } }, { status: 200, body: { started: true } }])
    const api = new Api({ fetch })
    await api.authState()
    await api.runTransport(3)
    expect(calls[1]!.url).toBe('/api/transports/3/run')
    expect(header(calls[1]!, 'x-csrf-token')).toBe('from-state')
  })

  it('marks polling as background so it does not keep the session alive', async () => {
    const { fetch, calls } = fakeFetch([{ status: 200, body: {} }, { status: 200, body: {} }])
    const api = new Api({ fetch })
    await api.dashboard({ background: true })
    await api.dashboard()
    expect(header(calls[0]!, 'x-outpost-background')).toBe('1')
    expect(header(calls[1]!, 'x-outpost-background')).toBeUndefined()
  })

  it('on a 401 from a page forgets the token and calls onUnauthorized (the login page)', async () => {
    const { fetch } = fakeFetch([{ status: 200, body: { csrf: 't' } }, { status: 401, body: { error: 'log in first' } }])
    const onUnauthorized = vi.fn()
    const api = new Api({ fetch, onUnauthorized })
    await api.login('pw')
    const err = await api.accounts().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).status).toBe(401)
    expect((err as ApiError).message).toBe('log in first')
    expect(onUnauthorized).toHaveBeenCalledOnce()
    expect(api.csrf).toBeUndefined()
  })

  it('a wrong password at login is an error to show, not a lost session', async () => {
    const { fetch } = fakeFetch([{ status: 401, body: { error: 'wrong password' } }])
    const onUnauthorized = vi.fn()
    const api = new Api({ fetch, onUnauthorized })
    await expect(api.login('nope')).rejects.toMatchObject({ status: 401, message: 'wrong password' })
    expect(onUnauthorized).not.toHaveBeenCalled()
  })

  it('passes on retry-after of a rate-limited login', async () => {
    const { fetch } = fakeFetch([{ status: 429, body: { error: 'too many attempts' }, headers: { 'retry-after': '900' } }])
    const api = new Api({ fetch })
    await expect(api.login('x')).rejects.toMatchObject({ status: 429, retryAfter: 900 })
  })

  it('says the box did not answer when the network fails', async () => {
    const api = new Api({ fetch: (async () => { throw new TypeError('Failed to fetch') }) as unknown as typeof fetch })
    await expect(api.accounts()).rejects.toThrow(/did not answer.*Wi-Fi/)
  })

  it('a schema refusal carries the server message naming the field', async () => {
    const { fetch } = fakeFetch([{ status: 400, body: { error: 'body/name must match pattern', statusCode: 400 } }])
    const api = new Api({ fetch })
    await expect(api.addAccount({ name: 'bad name' })).rejects.toThrow('body/name must match pattern')
  })

  it('builds the events query from its filters', async () => {
    const { fetch, calls } = fakeFetch([{ status: 200, body: [] }])
    const api = new Api({ fetch })
    await api.events({ before: 99, kinds: ['message.delivered', 'error'], limit: 50 })
    expect(calls[0]!.url).toBe('/api/events?before=99&kinds=message.delivered%2Cerror&limit=50')
  })
})
