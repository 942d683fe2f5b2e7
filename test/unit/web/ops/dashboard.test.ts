// The dashboard: health of SMTP, IMAP, disk and the queue, each transport's
// last and next run, and the traffic chart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode } from '../../../helpers/ops-admin.js'
import { stableMessageId } from '../../../../server/bundle/message-id.js'

/** A server that greets like a mail daemon, standing in for Haraka or Dovecot. */
async function greeter(greeting: string): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.end(`${greeting}\r\n`))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as { port: number }).port }
}

test('the dashboard shows SMTP and IMAP answering, the disk, a queue that waited too long, and the transports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webdash-'))
  const smtp = await greeter('220 camp.test ESMTP')
  const imap = await greeter('* OK Dovecot ready.')
  const data = join(dir, 'camp')
  const camp = await opsNode(data, 'camp.test', { ports: { smtp: smtp.port, imap: imap.port } })
  try {
    let d = (await camp.get('/api/dashboard')).json()
    assert.deepEqual(d.node, { name: 'camp', domain: 'camp.test', version: d.node.version })
    assert.match(d.node.version, /^\d+\.\d+\.\d+/)
    assert.equal(d.health.smtp.ok, true, d.health.smtp.detail)
    assert.equal(d.health.imap.ok, true, d.health.imap.detail)
    assert.ok(d.health.disk.freeBytes > 0 && d.health.disk.totalBytes >= d.health.disk.freeBytes)
    assert.deepEqual(d.health.queue, { ok: true, detail: 'nothing waits for a peer', messages: 0, bytes: 0, oldestAt: null })
    assert.deepEqual(d.transports, [])

    // SMTP down: the dashboard says so, naming the address.
    await new Promise((r) => smtp.server.close(r))
    d = (await camp.get('/api/dashboard')).json()
    assert.equal(d.health.smtp.ok, false)
    assert.match(d.health.smtp.detail, new RegExp(`127\\.0\\.0\\.1:${smtp.port}`))

    // A message for town that has waited eight days.
    const town = await opsNode(join(dir, 'town'), 'town.test')
    const card = (await town.get('/api/self')).json().card
    await town.close()
    assert.equal((await camp.send('POST', '/api/peers', { card })).statusCode, 200)
    const msg = Buffer.from('Message-ID: <old@camp.test>\r\n\r\nold\r\n')
    const eightDays = 8 * 24 * 60 * 60 * 1000
    camp.services.outbox.enqueue({ messageId: stableMessageId(msg, 'a@camp.test'), sender: 'a@camp.test', data: msg, byPeer: new Map([['town', ['b@town.test']]]), hops: 0, now: Date.now() - eightDays })
    const t = (await camp.send('POST', '/api/transports', { peer: 'town', kind: 'folder', options: { path: dir }, schedule: '0 6 * * *' })).json()
    d = (await camp.get('/api/dashboard')).json()
    assert.equal(d.health.queue.ok, false)
    assert.equal(d.health.queue.messages, 1)
    assert.equal(d.health.queue.bytes, msg.length)
    assert.match(d.health.queue.detail, /the oldest for 8 days: check that its peer's transport runs/)
    assert.deepEqual({ ...d.transports[0], nextRun: undefined }, { id: t.id, peer: 'town', kind: 'folder', schedule: '0 6 * * *', lastRun: null, nextRun: undefined })
    const next = new Date(d.transports[0].nextRun)
    assert.ok(next.getTime() > Date.now() && next.getHours() === 6 && next.getMinutes() === 0)
  } finally {
    await camp.close()
    smtp.server.close()
    imap.server.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('traffic: one entry per day, oldest first, zeros included; a bad range is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webtraffic-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  try {
    const { events } = camp.services
    const id = 'b'.repeat(64)
    events.record('message.delivered', { messageId: id, recipient: 'bob@camp.test', via: 'smtp' })
    events.record('message.delivered', { messageId: id, recipient: 'carol@camp.test', via: 'folder' })
    events.record('bundle.exported', { peer: 'town', bundleId: 'x', messages: 3, bytes: 9, via: 'http' })
    let r = await camp.get('/api/traffic?days=3')
    assert.equal(r.statusCode, 200)
    const days = r.json().days
    assert.equal(days.length, 3)
    const today = new Date().toISOString().slice(0, 10)
    assert.deepEqual(days[2], { day: today, received: 1, sent: 3, local: 1 })
    assert.deepEqual(days.slice(0, 2).map((d: { received: number; sent: number; local: number }) => d.received + d.sent + d.local), [0, 0])
    assert.ok(days[0].day < days[1].day && days[1].day < days[2].day)
    assert.equal((await camp.get('/api/traffic')).json().days.length, 14, 'two weeks by default')
    r = await camp.get('/api/traffic?days=0')
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /days must be >= 1/)
    assert.equal((await camp.get('/api/traffic?days=lots')).statusCode, 400)
  } finally {
    await camp.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
