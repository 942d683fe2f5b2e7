// The web admin on a real `outpost start`: HTTPS with the node's
// certificate, the pages served from the build, first-run setup, an
// account made on the web that then sends mail through the real Haraka,
// and the live websocket over TLS carrying an event another process records.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:https'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import WebSocket from 'ws'
import { startNode } from '../../helpers/node.js'
import { setupCodeOf } from '../../helpers/web-admin.js'
import { smtpClient, maildirFiles } from '../../helpers/mail.js'
import { openDb } from '../../../server/db/index.js'
import { EventLog } from '../../../server/events/log.js'
import { waitFor } from '../../helpers/wait.js'

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function https(port: number, ca: Buffer, method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body)
    const req = request(
      { host: '127.0.0.1', port, method, path, ca, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...opts.headers } },
      (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

test('outpost start serves the admin over TLS: first run, an account that sends mail, and live events', async () => {
  const node = await startNode({ domain: 'camp.test' })
  try {
    const ca = readFileSync(join(node.data, 'tls', 'cert.pem'))
    const web = node.ports.web
    assert.match(node.output(), new RegExp(`web admin https://127\\.0\\.0\\.1:${web}/`))

    // The pages: the app's index for / and for its own client-side routes; never for /api.
    for (const path of ['/', '/accounts', '/join']) {
      const page = await https(web, ca, 'GET', path)
      assert.equal(page.status, 200, path)
      assert.match(String(page.headers['content-type']), /text\/html/)
      assert.match(page.body, /<script/)
    }
    // Unclaimed: nothing but the first visit's routes answers.
    assert.equal((await https(web, ca, 'GET', '/api/nothing-here')).status, 403)

    let r = await https(web, ca, 'GET', '/api/auth/state')
    assert.deepEqual(JSON.parse(r.body), { setup: false, loggedIn: false })
    // A stranger on the network has no setup code; the owner reads it on the box's console, or in its data dir.
    r = await https(web, ca, 'POST', '/api/auth/setup', { body: { password: 'a stranger got here first', code: 'AAAA-BBBB-CCCC-DDDD' } })
    assert.equal(r.status, 403, r.body)
    assert.equal(r.headers['set-cookie'], undefined)
    const code = /outpost unclaimed: .*setup code ([A-Z2-7-]{19})/.exec(node.output())?.[1]
    assert.equal(code, setupCodeOf(node.data), 'the start log shows the code')
    r = await https(web, ca, 'POST', '/api/auth/setup', { body: { password: 'a good admin password', code: code! } })
    assert.equal(r.status, 200, r.body)
    const setCookie = String(r.headers['set-cookie'])
    assert.match(setCookie, /HttpOnly/)
    assert.match(setCookie, /Secure/)
    assert.match(setCookie, /SameSite=Strict/)
    const cookie = setCookie.split(';')[0]!
    const { csrf } = JSON.parse(r.body) as { csrf: string }

    r = await https(web, ca, 'POST', '/api/accounts', { body: { name: 'alice' }, headers: { cookie, 'x-csrf-token': csrf } })
    assert.equal(r.status, 200, r.body)
    const alice = JSON.parse(r.body) as { address: string; password: string; dclogin: string }
    assert.ok(alice.dclogin.includes(`sp=${node.ports.submission}`))
    // The password on the QR is the one the real SMTP server takes.
    const smtp = smtpClient(node.ports.submission, alice)
    await smtp.sendMail({ from: alice.address, to: alice.address, subject: 'hi', text: 'from the web admin' })
    smtp.close()
    await waitFor("the message in alice's Maildir", () => maildirFiles(node.data, alice.address).length > 0, 5000)
    assert.equal(maildirFiles(node.data, alice.address).length, 1)

    // Live events: another process records, the node's tail pushes it over the TLS websocket.
    const ws = new WebSocket(`wss://127.0.0.1:${web}/api/ws`, { ca, headers: { cookie } })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    const seen = new Promise<{ kind: string; data: { message: string } }>((resolve) => {
      ws.on('message', (d) => {
        const ev = JSON.parse(String(d))
        if (ev.kind === 'error' && ev.data.source === 'test') resolve(ev)
      })
    })
    const db = openDb(join(node.data, 'outpost.db'))
    try {
      new EventLog(db).record('error', { source: 'test', message: 'seen live' })
    } finally {
      db.$client.close()
    }
    assert.equal((await seen).data.message, 'seen live')
    ws.close()

    // Without the cookie the websocket is refused.
    const refused = new WebSocket(`wss://127.0.0.1:${web}/api/ws`, { ca })
    const why = await new Promise<string>((resolve) => {
      refused.once('unexpected-response', (_req, res) => resolve(String(res.statusCode)))
      refused.once('error', (err) => resolve(err.message))
    })
    assert.match(why, /401/)
  } finally {
    await node.destroy()
  }
})
