// Accounts and invites from the web admin, and joining from the landing page.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import jsQRModule from 'jsqr'
import { adminFixture } from '../../helpers/web-admin.js'

test('creating an account gives its password, dclogin: URI and a QR code of it; reset and remove work', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    let r = await f.app.inject({ method: 'POST', url: '/api/accounts', headers: s.headers, payload: { name: 'alice' } })
    assert.equal(r.statusCode, 200, r.body)
    const a = r.json()
    assert.equal(a.address, 'alice@camp.test')
    assert.ok(a.password.length >= 20)
    assert.ok(a.dclogin.startsWith('dclogin:alice@camp.test?'))
    assert.equal(new URL(a.dclogin.replace('dclogin:', 'http://')).searchParams.get('p'), a.password)
    assert.match(a.qrSvg, /^<svg[^>]*viewBox/)
    assert.ok(await f.node.accounts.verify('alice@camp.test', a.password), 'the password logs in')

    r = await f.app.inject({ method: 'POST', url: '/api/accounts', headers: s.headers, payload: { name: 'alice' } })
    assert.equal(r.statusCode, 409)
    assert.match(r.json().error, /already exists/)
    r = await f.app.inject({ method: 'POST', url: '/api/accounts', headers: s.headers, payload: { address: 'bob@elsewhere.test' } })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /serves camp\.test/)
    r = await f.app.inject({ method: 'POST', url: '/api/accounts', headers: s.headers, payload: { name: 'bob', password: 'short' } })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /password/, 'the schema names the field')

    r = await f.app.inject({ url: '/api/accounts', headers: { cookie: s.cookie } })
    assert.deepEqual(
      r.json().items.map((x: { address: string; usedBytes: number }) => [x.address, x.usedBytes]),
      [['alice@camp.test', 0]],
    )
    assert.equal(r.json().total, 1)
    assert.equal(r.json().next, null)

    r = await f.app.inject({ method: 'POST', url: '/api/accounts/alice@camp.test/password', headers: s.headers })
    assert.equal(r.statusCode, 200)
    assert.notEqual(r.json().password, a.password)
    assert.equal(await f.node.accounts.verify('alice@camp.test', a.password), false, 'the old password no longer works')
    assert.ok(await f.node.accounts.verify('alice@camp.test', r.json().password))

    r = await f.app.inject({ method: 'DELETE', url: '/api/accounts/alice@camp.test', headers: s.headers })
    assert.equal(r.statusCode, 204)
    assert.equal(f.node.accounts.get('alice@camp.test'), undefined)
    r = await f.app.inject({ method: 'DELETE', url: '/api/accounts/alice@camp.test', headers: s.headers })
    assert.equal(r.statusCode, 404)
  } finally {
    await f.close()
  }
})

test('the account list comes a page at a time with a cursor, and a search narrows it on the server', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    const insert = f.node.db.$client.prepare('INSERT INTO accounts (address, password_hash, created_at) VALUES (?, ?, ?)')
    for (let i = 0; i < 120; i++) insert.run(`user${String(i).padStart(3, '0')}@camp.test`, 'x', i)
    // One has mail on disk: its page says how much.
    mkdirSync(join(f.node.paths.mail, 'camp.test', 'user007', 'Maildir', 'new'), { recursive: true })
    writeFileSync(join(f.node.paths.mail, 'camp.test', 'user007', 'Maildir', 'new', '1.eml'), 'x'.repeat(1234))
    const get = (q: string) => f.app.inject({ url: `/api/accounts${q}`, headers: { cookie: s.cookie } })

    let r = await get('')
    assert.equal(r.statusCode, 200)
    let page = r.json()
    assert.equal(page.items.length, 50, 'the first page, not all 120')
    assert.equal(page.total, 120)
    assert.equal(page.items.find((a: { address: string }) => a.address === 'user007@camp.test').usedBytes, 1234)
    const seen = page.items.map((a: { address: string }) => a.address)
    while (page.next) {
      page = (await get(`?limit=50&after=${encodeURIComponent(page.next)}`)).json()
      seen.push(...page.items.map((a: { address: string }) => a.address))
    }
    assert.equal(seen.length, 120)
    assert.equal(new Set(seen).size, 120, 'none twice')

    r = await get('?search=USER11')
    assert.deepEqual(
      r.json().items.map((a: { address: string }) => a.address),
      Array.from({ length: 10 }, (_, i) => `user11${i}@camp.test`),
    )
    assert.equal(r.json().total, 10)
    r = await get('?after=garbage')
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /not an account cursor/)
    assert.equal((await get('?limit=201')).statusCode, 400, 'a page is at most 200')
  } finally {
    await f.close()
  }
})

test('the account QR decodes to the dclogin: URI', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    const a = (await f.app.inject({ method: 'POST', url: '/api/accounts', headers: s.headers, payload: { name: 'carol' } })).json()
    const pixels = rasterise(a.qrSvg, 8)
    const code = jsQR(pixels.data, pixels.size, pixels.size)
    assert.equal(code?.data, a.dclogin)
  } finally {
    await f.close()
  }
})

test('invites: joining needs first-login creation on, a live code with uses left, and a free name', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    let r = await f.app.inject({ method: 'POST', url: '/api/invites', headers: s.headers, payload: { expiresInHours: 2, maxUses: 2 } })
    assert.equal(r.statusCode, 200, r.body)
    const invite = r.json()
    assert.equal(invite.url, `https://127.0.0.1:${f.node.config.ports.web}/join#${invite.code}`)
    assert.match(invite.qrSvg, /^<svg/)
    const join = (name: string, code = invite.code) => f.app.inject({ method: 'POST', url: '/api/public/join', payload: { code, name } })

    r = await f.app.inject({ url: '/api/public/info' })
    assert.deepEqual(r.json(), { name: 'camp', domain: 'camp.test', firstLogin: false })
    r = await join('dan')
    assert.equal(r.statusCode, 403)
    assert.match(r.json().error, /ask the admin/)

    r = await f.app.inject({ method: 'PATCH', url: '/api/settings', headers: s.headers, payload: { firstLogin: { enabled: true } } })
    assert.equal(r.statusCode, 200)
    assert.equal((await f.app.inject({ url: '/api/public/info' })).json().firstLogin, true)

    r = await join('dan')
    assert.equal(r.statusCode, 200, r.body)
    assert.equal(r.json().address, 'dan@camp.test')
    assert.ok(r.json().dclogin.startsWith('dclogin:dan@camp.test?'))
    assert.ok(await f.node.accounts.verify('dan@camp.test', r.json().password))
    r = await join('dan')
    assert.equal(r.statusCode, 409, 'a taken name')
    r = await join('dan', 'notacode')
    assert.equal(r.statusCode, 403, 'without a good code, a taken name is not told')
    r = await join('erin')
    assert.equal(r.statusCode, 200)
    r = await join('frank')
    assert.equal(r.statusCode, 403, 'used up after 2')
    assert.match(r.json().error, /expired or used up/)
    r = await f.app.inject({ url: '/api/invites', headers: { cookie: s.cookie } })
    assert.equal(r.json()[0].uses, 2, 'the taken name did not use up a use')

    const short = (await f.app.inject({ method: 'POST', url: '/api/invites', headers: s.headers, payload: { expiresInHours: 1, maxUses: 10 } })).json()
    f.clock.now += 61 * 60 * 1000
    r = await join('gina', short.code)
    assert.equal(r.statusCode, 403, 'expired')
    assert.equal(f.node.accounts.get('gina@camp.test'), undefined)

    // An hour later the admin's session has gone idle too: log in again.
    const again = await f.login()
    r = await f.app.inject({ method: 'DELETE', url: `/api/invites/${short.code}`, headers: again.headers })
    assert.equal(r.statusCode, 204)
  } finally {
    await f.close()
  }
})

test('guessing invite codes is rate-limited like the login', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    await f.app.inject({ method: 'PATCH', url: '/api/settings', headers: s.headers, payload: { firstLogin: { enabled: true } } })
    for (let i = 0; i < 5; i++) {
      const r = await f.app.inject({ method: 'POST', url: '/api/public/join', payload: { code: `guess${i}`, name: 'mallory' } })
      assert.equal(r.statusCode, 403)
    }
    const r = await f.app.inject({ method: 'POST', url: '/api/public/join', payload: { code: 'guess5', name: 'mallory' } })
    assert.equal(r.statusCode, 429)
    assert.ok(Number(r.headers['retry-after']) > 0)
  } finally {
    await f.close()
  }
})

// jsqr is CommonJS with a typed default export: under NodeNext the default import is the module object.
const jsQR = (jsQRModule as unknown as { default: typeof jsQRModule.default }).default

/** Draws the SVG's dark path of the qrcode package (one-module "h1v1h-1z"-style moves) into an RGBA buffer for jsQR. */
function rasterise(svg: string, scale: number): { data: Uint8ClampedArray; size: number } {
  const view = /viewBox="0 0 (\d+) (\d+)"/.exec(svg)
  assert.ok(view, 'the SVG has a viewBox')
  const n = Number(view[1])
  const dark = new Set<string>()
  // The dark path is the one drawn with a stroke; its moves are M x y, then h len (a run of modules on row y+0.5).
  const path = /<path[^>]*stroke="#000000"[^>]*d="([^"]+)"/.exec(svg) ?? /<path[^>]*d="([^"]+)"[^>]*stroke="#000000"/.exec(svg)
  assert.ok(path, 'the SVG has a dark path')
  let x = 0
  let y = 0
  for (const m of path[1]!.matchAll(/([MmHhVv])\s*([\d.-]+)(?:[ ,]([\d.-]+))?/g)) {
    const [, op, a, b] = m
    if (op === 'M') {
      x = Number(a)
      y = Number(b)
    } else if (op === 'm') {
      x += Number(a)
      y += Number(b)
    } else if (op === 'h') {
      const len = Number(a)
      for (let i = 0; i < len; i++) dark.add(`${Math.floor(x + i)},${Math.floor(y)}`)
      x += len
    }
  }
  const size = n * scale
  const data = new Uint8ClampedArray(size * size * 4).fill(255)
  for (const key of dark) {
    const [cx, cy] = key.split(',').map(Number) as [number, number]
    for (let dy = 0; dy < scale; dy++)
      for (let dx = 0; dx < scale; dx++) {
        const o = ((cy * scale + dy) * size + cx * scale + dx) * 4
        data[o] = data[o + 1] = data[o + 2] = 0
      }
  }
  return { data, size }
}

test('removing an account on the web archives its mailbox out of the mail dir, so a new account of that name starts empty', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    await f.node.accounts.add('alice@camp.test')
    const home = join(f.data, 'mail', 'camp.test', 'alice')
    mkdirSync(join(home, 'Maildir', 'new'), { recursive: true })
    writeFileSync(join(home, 'Maildir', 'new', '1.camp'), 'Subject: for the first alice\r\n\r\nprivate\r\n')
    const r = await f.app.inject({ method: 'DELETE', url: '/api/accounts/alice@camp.test', headers: s.headers })
    assert.equal(r.statusCode, 204)
    assert.equal(existsSync(home), false, 'nothing left where a new alice would look')
    const archived = readdirSync(join(f.data, 'archive'))
    assert.equal(archived.length, 1)
    assert.match(archived[0]!, /^alice@camp\.test-\d{8}T\d{6}Z$/)
    assert.ok(existsSync(join(f.data, 'archive', archived[0]!, 'Maildir', 'new', '1.camp')), 'the mail is kept, not wiped')
  } finally {
    await f.close()
  }
})
