// The admin login over a real node data dir: first-run setup, login,
// rate limit, sessions' lifetimes, CSRF, and the gate on every route.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { adminFixture, ADMIN_PASSWORD, sessionFrom } from '../../helpers/web-admin.js'
import { buildApp } from '../../../server/web/app.js'
import { AdminAuth } from '../../../server/admin/auth.js'

test('first run: the state says no password yet, setup sets one and logs in, a second setup is refused', async () => {
  const f = await adminFixture()
  try {
    let r = await f.app.inject({ url: '/api/auth/state' })
    assert.deepEqual(r.json(), { setup: false, loggedIn: false })
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: 'short' } })
    assert.equal(r.statusCode, 400)
    assert.equal(r.json().error, 'body.password must NOT have fewer than 10 characters')
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { pasword: 'a long enough password' } })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /body\.password is required|body\.pasword is not a known field/)
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: ADMIN_PASSWORD } })
    assert.equal(r.statusCode, 200)
    const cookie = r.cookies.find((c) => c.name === 'outpost_session')!
    assert.equal(cookie.httpOnly, true)
    assert.equal(cookie.secure, true)
    assert.equal(cookie.sameSite, 'Strict')
    const s = sessionFrom(r)
    r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: s.cookie } })
    assert.deepEqual(r.json(), { setup: true, loggedIn: true, csrf: s.csrf })
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: 'another long password' } })
    assert.equal(r.statusCode, 409)
    assert.match(r.json().error, /already set/)
    // The first password still holds.
    await f.login()
  } finally {
    await f.close()
  }
})

test('login: the right password gives a session, a wrong one 401, and the sixth try within 15 min 429 until the window passes', async () => {
  const f = await adminFixture()
  try {
    await f.setup()
    const ok = await f.login()
    assert.ok(ok.csrf)
    for (let i = 0; i < 5; i++) {
      const r = await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: `wrong ${i}` } })
      assert.equal(r.statusCode, 401, `try ${i + 1}`)
      assert.equal(r.json().error, 'wrong password')
    }
    let r = await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: ADMIN_PASSWORD } })
    assert.equal(r.statusCode, 429, 'even the right password waits')
    const wait = Number(r.headers['retry-after'])
    assert.ok(wait > 14 * 60 && wait <= 15 * 60, `retry-after ${wait}`)
    f.clock.now += 15 * 60 * 1000 + 1000
    r = await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: ADMIN_PASSWORD } })
    assert.equal(r.statusCode, 200)
  } finally {
    await f.close()
  }
})

test('a change without the CSRF token is refused with 403, and with it goes through', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    let r = await f.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: s.cookie } })
    assert.equal(r.statusCode, 403)
    assert.equal(r.json().error, 'missing or wrong CSRF token')
    r = await f.app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: s.cookie, 'x-csrf-token': 'x'.repeat(43) } })
    assert.equal(r.statusCode, 403)
    r = await f.app.inject({ method: 'POST', url: '/api/auth/logout', headers: s.headers })
    assert.equal(r.statusCode, 204)
    r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: s.cookie } })
    assert.equal(r.json().loggedIn, false, 'logged out')
  } finally {
    await f.close()
  }
})

test('a session ends after 30 min idle and after 12 h however active; polling does not keep it alive', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    const get = (headers: Record<string, string> = {}) => f.app.inject({ method: 'POST', url: '/api/auth/password', headers: { ...s.headers, ...headers }, payload: { current: 'x', password: 'y' } })
    const alive = async (background = false) => {
      // A schema refusal (400) proves the gate let the request through.
      const r = await get(background ? { 'x-outpost-background': '1' } : {})
      return r.statusCode !== 401
    }
    // Person's requests every 20 min keep it going.
    f.clock.now += 20 * 60 * 1000
    assert.equal(await alive(), true)
    f.clock.now += 20 * 60 * 1000
    assert.equal(await alive(), true)
    // Only the dashboard's polling from here on: it sees the session but
    // does not extend it, so 30 min after the last click it is over.
    const lastClick = f.clock.now
    for (const min of [10, 20, 29]) {
      f.clock.now = lastClick + min * 60 * 1000
      assert.equal(await alive(true), true, `poll at +${min} min`)
    }
    f.clock.now = lastClick + 31 * 60 * 1000
    assert.equal(await alive(true), false, 'poll at +31 min')
    let r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: s.cookie } })
    assert.equal(r.json().loggedIn, false)

    const t = await f.login()
    const start = f.clock.now
    while (f.clock.now - start < 12 * 60 * 60 * 1000 - 20 * 60 * 1000) {
      f.clock.now += 20 * 60 * 1000
      r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: t.cookie } })
      assert.equal(r.json().loggedIn, true)
      await f.app.inject({ method: 'POST', url: '/api/auth/password', headers: t.headers, payload: {} })
    }
    f.clock.now = start + 12 * 60 * 60 * 1000 + 1
    r = await f.app.inject({ method: 'POST', url: '/api/auth/password', headers: t.headers, payload: {} })
    assert.equal(r.statusCode, 401)
    assert.deepEqual(r.json(), { error: 'log in first', statusCode: 401 })
  } finally {
    await f.close()
  }
})

test('a session survives a restart of the web app (it lives in the database)', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    const again = await buildApp({ probes: { host: '127.0.0.1', smtpPort: 1, imapPort: 1, db: f.node.db, dataDir: f.data }, services: f.services, now: () => f.clock.now })
    const r = await again.inject({ url: '/api/auth/state', headers: { cookie: s.cookie } })
    assert.equal(r.json().loggedIn, true)
    await again.close()
  } finally {
    await f.close()
  }
})

test('changing the password needs the current one and ends the other sessions', async () => {
  const f = await adminFixture()
  try {
    const a = await f.setup()
    const b = await f.login()
    let r = await f.app.inject({ method: 'POST', url: '/api/auth/password', headers: a.headers, payload: { current: 'not it at all', password: 'a brand new password' } })
    assert.equal(r.statusCode, 403)
    r = await f.app.inject({ method: 'POST', url: '/api/auth/password', headers: a.headers, payload: { current: ADMIN_PASSWORD, password: 'a brand new password' } })
    assert.equal(r.statusCode, 204)
    r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: a.cookie } })
    assert.equal(r.json().loggedIn, true, 'the session that changed it stays')
    r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: b.cookie } })
    assert.equal(r.json().loggedIn, false, 'the other one ends')
    await f.login('a brand new password')
    // The CLI's reset (a forgotten password) ends every session.
    await new AdminAuth(f.node.db).setPassword('reset from the terminal')
    r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: a.cookie } })
    assert.equal(r.json().loggedIn, false)
  } finally {
    await f.close()
  }
})

test('many wrong logins sent at once cannot get past the limit', async () => {
  const f = await adminFixture()
  try {
    await f.setup()
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: `guess ${i}` } })))
    const codes = answers.map((r) => r.statusCode)
    assert.equal(codes.filter((c) => c === 401).length, 5, codes.join(' '))
    assert.equal(codes.filter((c) => c === 429).length, 7)
  } finally {
    await f.close()
  }
})
