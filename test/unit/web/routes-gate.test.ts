// Every route under /api answers 401 without a session, except the public
// ones the API contract names; before the box is claimed, everything but
// the first visit's few routes answers 403. The routes are collected as the
// app adds them, so a route added later is walked too.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { adminFixture } from '../../helpers/web-admin.js'

const PUBLIC = new Set(['GET /api/health', 'GET /api/auth/state', 'POST /api/auth/setup', 'POST /api/auth/login', 'GET /api/public/info', 'POST /api/public/join', 'POST /api/peer/bundles', 'POST /api/peer/pickup', 'POST /api/peer/pickup/done/:token'])
/** What an unclaimed box answers: the public routes but the login. */
const UNCLAIMED = new Set([...PUBLIC].filter((r) => r !== 'POST /api/auth/login'))

test('unclaimed, every /api route but the first visit\'s answers 403; claimed, every one but the public ones answers 401 "log in first" without a session, and with a forged cookie', async () => {
  const routes: { method: string; url: string }[] = []
  const f = await adminFixture({
    app: {
      onRoute: (r) => {
        for (const m of [r.method].flat()) if (m !== 'HEAD' && r.url.startsWith('/api')) routes.push({ method: m, url: r.url })
      },
      // The peer routes too: they must stay reachable without a login.
      inbox: { signerFor: () => undefined, importBundle: async () => ({ kind: 'quarantined', reason: 'x', file: 'x' }) },
    },
  })
  try {
    // The contract's own routes must be among them, or the walk proves little.
    for (const want of ['GET /api/accounts', 'POST /api/accounts', 'GET /api/settings', 'PATCH /api/settings', 'GET /api/events', 'GET /api/ws', 'POST /api/auth/logout', 'DELETE /api/invites/:code']) {
      assert.ok(routes.some((r) => `${r.method} ${r.url}` === want), `${want} is registered`)
    }
    // Unclaimed: 403 for all but the first visit's routes, session cookie or not.
    let refused = 0
    for (const r of routes) {
      const key = `${r.method} ${r.url}`
      const url = r.url.replace(/:[a-zA-Z]+/g, 'x')
      const res = await f.app.inject({ method: r.method as 'GET', url, headers: { cookie: 'outpost_session=forged' }, ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: {} }) })
      if (UNCLAIMED.has(key)) assert.notEqual(res.statusCode, 403, `${key} answers an unclaimed box`)
      else {
        assert.equal(res.statusCode, 403, `${key} on an unclaimed box`)
        assert.match(res.json().error, /not claimed yet/, key)
        refused++
      }
    }
    assert.ok(refused >= 10, `walked ${refused} refused routes`)
    assert.equal((await f.app.inject({ url: '/api/no-such-thing' })).statusCode, 403)

    await f.setup()
    let gated = 0
    for (const r of routes) {
      const key = `${r.method} ${r.url}`
      const url = r.url.replace(/:[a-zA-Z]+/g, 'x')
      for (const cookie of [undefined, 'outpost_session=forged']) {
        const res = await f.app.inject({ method: r.method as 'GET', url, headers: cookie ? { cookie } : {}, ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: {} }) })
        if (PUBLIC.has(key)) {
          // (The peer route has its own 401 for an unsigned request; it must not be the login's.)
          assert.notEqual(res.json().error, 'log in first', `${key} is public`)
        } else {
          assert.equal(res.statusCode, 401, `${key} without a session`)
          assert.deepEqual(res.json(), { error: 'log in first', statusCode: 401 }, key)
          gated++
        }
      }
    }
    assert.ok(gated >= 2 * 10, `walked ${gated / 2} gated routes`)
    // A path that matches no route is gated too: nobody learns which admin routes exist.
    const r = await f.app.inject({ url: '/api/no-such-thing' })
    assert.equal(r.statusCode, 401)
  } finally {
    await f.close()
  }
})
