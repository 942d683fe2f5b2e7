// The activity log and its live websocket: an event recorded by another
// process (another EventLog on the same database) reaches an open socket;
// the socket needs a session and never extends it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type WebSocket from 'ws'
import '@fastify/websocket'
import { adminFixture } from '../../helpers/web-admin.js'
import { openDb } from '../../../server/db/index.js'
import { EventLog } from '../../../server/events/log.js'
import type { OutpostEvent } from '../../../server/events/types.js'

function nextMessage(ws: WebSocket, timeoutMs = 3000): Promise<OutpostEvent> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no event on the websocket within 3 s')), timeoutMs)
    ws.once('message', (data) => {
      clearTimeout(t)
      resolve(JSON.parse(String(data)) as OutpostEvent)
    })
  })
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)))
}

test('the websocket pushes an event another process records, and GET /api/events lists it', async () => {
  const f = await adminFixture()
  const stopTail = f.services.events.tail(f.services.bus, 20)
  const haraka = openDb(f.node.paths.db)
  try {
    const s = await f.setup()
    const ws = await f.app.injectWS('/api/ws', { headers: { cookie: s.cookie } })
    const got = nextMessage(ws)
    // As Haraka's plugin would, from its own process and connection.
    new EventLog(haraka).record('message.delivered', { messageId: 'abc', recipient: 'alice@camp.test', via: 'smtp' })
    const ev = await got
    assert.equal(ev.kind, 'message.delivered')
    assert.deepEqual(ev.data, { messageId: 'abc', recipient: 'alice@camp.test', via: 'smtp' })
    assert.ok(ev.id > 0)

    // Progress is live only, from this process's own log.
    const progress = nextMessage(ws)
    f.services.events.record('transport.run', { transportId: 1, peer: 'town', kind: 'http', phase: 'progress', done: 1, total: 4 })
    assert.equal((await progress).kind, 'transport.run')
    ws.terminate()

    const r = await f.app.inject({ url: '/api/events?kinds=message.delivered,transport.run&limit=10', headers: { cookie: s.cookie } })
    assert.equal(r.statusCode, 200)
    assert.deepEqual(
      r.json().map((e: OutpostEvent) => e.kind),
      ['message.delivered'],
    )
    const bad = await f.app.inject({ url: '/api/events?limit=lots', headers: { cookie: s.cookie } })
    assert.equal(bad.statusCode, 400)
    assert.match(bad.json().error, /limit/)
  } finally {
    stopTail()
    haraka.$client.close()
    await f.close()
  }
})

test('the websocket is refused without a session, and does not keep one alive', async () => {
  const f = await adminFixture()
  try {
    // Unclaimed, the box refuses it to anyone.
    await assert.rejects(f.app.injectWS('/api/ws'), /403/)
    const s = await f.setup()
    await assert.rejects(f.app.injectWS('/api/ws'), /401/)
    await assert.rejects(f.app.injectWS('/api/ws', { headers: { cookie: 'outpost_session=forged' } }), /401/)

    const lastClick = f.clock.now
    f.clock.now = lastClick + 20 * 60 * 1000
    const ws = await f.app.injectWS('/api/ws', { headers: { cookie: s.cookie } })
    const ended = closed(ws)
    // An event while the session lives comes through: the handler has subscribed.
    const first = nextMessage(ws)
    f.services.bus.emit({ id: 0, at: f.clock.now, kind: 'error', data: { source: 'test', message: 'still live' } })
    assert.equal((await first).kind, 'error')
    f.clock.now = lastClick + 31 * 60 * 1000
    // The next event finds the session over and closes the socket instead of sending it.
    f.services.bus.emit({ id: 0, at: f.clock.now, kind: 'error', data: { source: 'test', message: 'x' } })
    assert.equal(await ended, 4401)
    const r = await f.app.inject({ url: '/api/auth/state', headers: { cookie: s.cookie } })
    assert.equal(r.json().loggedIn, false, 'opening the socket did not extend the session')
  } finally {
    await f.close()
  }
})
