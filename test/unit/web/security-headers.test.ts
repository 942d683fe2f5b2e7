// The web server's security headers and request limits, on the whole app as
// `outpost start` builds it: every answer carries a strict CSP, HSTS, a
// referrer policy and frame refusal (pages, API, refusals alike), and a
// client that sends too much is answered 429.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { adminFixture, ADMIN_PASSWORD } from '../../helpers/web-admin.js'
import { OPEN_ROUTE_LIMIT, REQUEST_LIMIT } from '../../../server/web/plugins/request-limits.js'

function assertSecurityHeaders(r: LightMyRequestResponse, what: string): void {
  const csp = String(r.headers['content-security-policy'])
  for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]) {
    assert.ok(csp.split(';').includes(d), `${what}: CSP has ${d}: ${csp}`)
  }
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${what}: no unsafe sources`)
  assert.match(String(r.headers['strict-transport-security']), /^max-age=31536000$/, what)
  assert.equal(r.headers['referrer-policy'], 'no-referrer', what)
  assert.equal(r.headers['x-frame-options'], 'DENY', what)
  assert.equal(r.headers['x-content-type-options'], 'nosniff', what)
}

test('every answer carries the security headers: the page, an API answer, a refusal and an unknown path', async () => {
  const web = mkdtempSync(join(tmpdir(), 'op-web-'))
  mkdirSync(join(web, 'assets'))
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Outpost</title><div id="app"></div>')
  writeFileSync(join(web, 'assets', 'index-abc.js'), 'console.log(1)')
  const f = await adminFixture({ app: { web: { root: web } } })
  try {
    for (const url of ['/', '/admin/accounts', '/assets/index-abc.js', '/api/auth/state', '/api/accounts', '/api/no-such-thing']) {
      const r = await f.app.inject({ url })
      assertSecurityHeaders(r, `GET ${url} (${r.statusCode})`)
    }
    const s = await f.setup()
    for (const url of ['/api/accounts', '/api/settings', '/api/no-such-thing']) {
      const r = await f.app.inject({ url, headers: { cookie: s.cookie } })
      assertSecurityHeaders(r, `GET ${url} logged in (${r.statusCode})`)
    }
    assertSecurityHeaders(await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: 'wrong' } }), 'a wrong login')
  } finally {
    await f.close()
    rmSync(web, { recursive: true, force: true })
  }
})

test(`one address sending more than ${REQUEST_LIMIT.max} requests a minute gets 429 with retry-after; another address does not`, async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    const get = (remoteAddress: string) => f.app.inject({ url: '/api/accounts', headers: { cookie: s.cookie }, remoteAddress })
    for (let i = 0; i < REQUEST_LIMIT.max; i++) assert.equal((await get('192.168.4.20')).statusCode, 200, `request ${i + 1}`)
    const r = await get('192.168.4.20')
    assert.equal(r.statusCode, 429)
    assert.match(r.json().error, /too many requests from this address; try again in \d+ s/)
    const wait = Number(r.headers['retry-after'])
    assert.ok(wait > 0 && wait <= 60, `retry-after ${wait}`)
    assertSecurityHeaders(r, 'the 429')
    assert.equal((await get('192.168.4.21')).statusCode, 200, 'another phone is not held up')
  } finally {
    await f.close()
  }
})

test(`the open routes that hash a password or check a code take ${OPEN_ROUTE_LIMIT.max} requests a minute from one address, whatever their outcome`, async () => {
  const f = await adminFixture()
  try {
    await f.setup()
    // Right passwords: the failure counter forgives them, the request limit does not.
    const codes: number[] = []
    for (let i = 0; i < OPEN_ROUTE_LIMIT.max + 1; i++) codes.push((await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: ADMIN_PASSWORD }, remoteAddress: '192.168.4.30' })).statusCode)
    assert.deepEqual(codes.slice(0, -1), Array(OPEN_ROUTE_LIMIT.max).fill(200))
    assert.equal(codes.at(-1), 429)
    const join = await f.app.inject({ method: 'POST', url: '/api/public/join', payload: { code: 'x', name: 'y' }, remoteAddress: '192.168.4.31' })
    assert.notEqual(join.statusCode, 429, 'each address and route is counted on its own')
  } finally {
    await f.close()
  }
})
