// The admin login over a real node data dir: first-run setup, login,
// rate limit, sessions' lifetimes, CSRF, and the gate on every route.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { adminFixture, ADMIN_PASSWORD, sessionFrom, setupCodeOf } from '../../helpers/web-admin.js'
import { buildApp } from '../../../server/web/app.js'
import { AdminAuth } from '../../../server/admin/auth.js'
import { SetupCodeFile } from '../../../server/admin/setup-code.js'

test('first run: the state says no password yet, setup with the setup code sets one and logs in, a second setup is refused', async () => {
  const f = await adminFixture()
  try {
    const code = setupCodeOf(f.data)
    assert.match(code, /^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/)
    assert.equal(statSync(join(f.data, 'setup-code')).mode & 0o777, 0o600, 'only the owner reads it')
    let r = await f.app.inject({ url: '/api/auth/state' })
    assert.deepEqual(r.json(), { setup: false, loggedIn: false })
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: 'short', code } })
    assert.equal(r.statusCode, 400)
    assert.equal(r.json().error, 'body.password must NOT have fewer than 10 characters')
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { pasword: 'a long enough password', code } })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /body\.password is required|body\.pasword is not a known field/)
    // Typed the way a person types it: lower case, spaces instead of dashes.
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: ADMIN_PASSWORD, code: code.toLowerCase().replaceAll('-', ' ') } })
    assert.equal(r.statusCode, 200)
    const cookie = r.cookies.find((c) => c.name === 'outpost_session')!
    assert.equal(cookie.httpOnly, true)
    assert.equal(cookie.secure, true)
    assert.equal(cookie.sameSite, 'Strict')
    const s = sessionFrom(r)
    r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: s.cookie } })
    assert.deepEqual(r.json(), { setup: true, loggedIn: true, csrf: s.csrf })
    assert.equal(existsSync(join(f.data, 'setup-code')), false, 'the code is spent')
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: 'another long password', code } })
    assert.equal(r.statusCode, 409)
    assert.match(r.json().error, /already set/)
    // The first password still holds.
    await f.login()
  } finally {
    await f.close()
  }
})

test('a stranger cannot claim the box: setup without or with a wrong code is refused with no session, and the owner claims it after', async () => {
  const f = await adminFixture()
  try {
    const stranger = async (payload: Record<string, string>) => {
      const r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: 'the stranger owns it now', ...payload } })
      assert.equal(r.cookies.find((c) => c.name === 'outpost_session'), undefined, `no session for ${JSON.stringify(payload)}`)
      return r
    }
    let r = await stranger({})
    assert.equal(r.statusCode, 400)
    r = await stranger({ code: '' })
    assert.equal(r.statusCode, 403)
    r = await stranger({ code: 'AAAA-AAAA-AAAA-AAAA' })
    assert.equal(r.statusCode, 403)
    assert.match(r.json().error, /wrong setup code.*outpost admin setup-code/)
    r = await f.app.inject({ url: '/api/auth/state' })
    assert.deepEqual(r.json(), { setup: false, loggedIn: false }, 'still unclaimed')
    // The owner, with the code from the box, claims it; the stranger's password does not log in.
    await f.setup()
    r = await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: 'the stranger owns it now' } })
    assert.equal(r.statusCode, 401)
  } finally {
    await f.close()
  }
})

test('guessing the setup code is throttled like the login: the sixth try within 15 min gets 429, even with the right code', async () => {
  const f = await adminFixture()
  try {
    for (let i = 0; i < 5; i++) {
      const r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: ADMIN_PASSWORD, code: `GUESS-${i}` } })
      assert.equal(r.statusCode, 403, `try ${i + 1}`)
    }
    let r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: ADMIN_PASSWORD, code: setupCodeOf(f.data) } })
    assert.equal(r.statusCode, 429)
    f.clock.now += 15 * 60 * 1000 + 1000
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: ADMIN_PASSWORD, code: setupCodeOf(f.data) } })
    assert.equal(r.statusCode, 200)
  } finally {
    await f.close()
  }
})

test('an unclaimed box answers only health, the first-run state and setup, and the landing page: an account password reset and the hotspot settings are refused', async () => {
  const f = await adminFixture()
  try {
    await f.node.accounts.add('alice@camp.test', 'alice has a password')
    // The attack as it was: a stranger's first-run setup, then whatever session it gave.
    const r0 = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: 'the stranger owns it now' } })
    const got = r0.cookies.find((c) => c.name === 'outpost_session')
    const stranger = got ? sessionFrom(r0).headers : { cookie: 'outpost_session=forged', 'x-csrf-token': 'forged' }
    let r = await f.app.inject({ method: 'POST', url: '/api/accounts/alice@camp.test/password', headers: stranger, payload: {} })
    assert.equal(r.statusCode, 403, `account password reset: ${r.body}`)
    assert.match(r.json().error, /not claimed yet/)
    r = await f.app.inject({ method: 'PATCH', url: '/api/settings', headers: stranger, payload: { hotspot: { passphrase: 'the stranger now' } } })
    assert.equal(r.statusCode, 403, `hotspot passphrase: ${r.body}`)
    r = await f.app.inject({ method: 'POST', url: '/api/auth/login', payload: { password: ADMIN_PASSWORD } })
    assert.equal(r.statusCode, 403)
    for (const url of ['/api/health', '/api/auth/state', '/api/public/info']) {
      r = await f.app.inject({ url })
      assert.notEqual(r.statusCode, 403, url)
    }
    // Once claimed, the same requests meet the login's gate instead.
    await f.setup()
    r = await f.app.inject({ method: 'POST', url: '/api/accounts/alice@camp.test/password', headers: stranger, payload: {} })
    assert.equal(r.statusCode, 401)
  } finally {
    await f.close()
  }
})

test('a box claimed on the terminal (`outpost admin password`) needs no code, and its code is spent', async () => {
  const f = await adminFixture()
  try {
    const codeFile = new SetupCodeFile(join(f.data, 'setup-code'))
    assert.ok(codeFile.read())
    await new AdminAuth(f.node.db, Date.now, codeFile).setPassword(ADMIN_PASSWORD)
    assert.equal(codeFile.read(), undefined)
    await f.login()
  } finally {
    await f.close()
  }
})

test('a node with neither a password nor a setup code cannot be claimed until a code exists; the code is typed forgivingly', async () => {
  const f = await adminFixture()
  try {
    const codeFile = new SetupCodeFile(join(f.data, 'setup-code'))
    codeFile.remove()
    let r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: ADMIN_PASSWORD, code: '' } })
    assert.equal(r.statusCode, 403, 'no code, no claim')
    writeFileSync(join(f.data, 'setup-code'), 'ABCD-EFGH-IJKL-MNOP\n', { mode: 0o600 })
    // 0, 1 and 8 are read as O, I and B: base32 has no such digits.
    r = await f.app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: ADMIN_PASSWORD, code: 'abcd efgh 1jkl mn0p' } })
    assert.equal(r.statusCode, 200)
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
