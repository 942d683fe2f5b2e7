// The Transports page's API over two real node dirs: add a folder transport
// between them, set its schedule with a preview, "run now" on both sides,
// and see the progress and the outcome as events.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode, type OpsNode } from '../../../helpers/ops-admin.js'
import { stableMessageId } from '../../../../server/bundle/message-id.js'
import type { OutpostEvent } from '../../../../server/events/types.js'

const isRun = (id: number, phase: string) => (e: OutpostEvent) => e.kind === 'transport.run' && (e as OutpostEvent<'transport.run'>).data.transportId === id && (e as OutpostEvent<'transport.run'>).data.phase === phase

async function befriend(a: OpsNode, b: OpsNode): Promise<void> {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const self = await x.get('/api/self')
    assert.equal(self.statusCode, 200, self.body)
    const r = await y.send('POST', '/api/peers', { card: self.json().card })
    assert.equal(r.statusCode, 200, r.body)
    assert.equal(r.json().status, 'added')
  }
}

test('run now of a folder transport between two nodes answers 202 at once, pushes progress, and records start and done', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webrun-'))
  const shared = join(dir, 'shared')
  mkdirSync(shared)
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test', { lmtp: true })
  try {
    await befriend(camp, town)
    let r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'folder', options: { path: shared }, schedule: '0 6 * * *' })
    assert.equal(r.statusCode, 200, r.body)
    const ct = r.json()
    assert.deepEqual({ ...ct, nextRuns: ct.nextRuns.length }, { id: ct.id, peer: 'town', kind: 'folder', schedule: '0 6 * * *', options: { path: shared }, lastRun: null, nextRuns: 5, running: false })
    r = await town.send('POST', '/api/transports', { peer: 'camp', kind: 'folder', options: { path: shared } })
    const tt = r.json()
    assert.equal(tt.schedule, '*/5 * * * *', "the driver's default schedule")

    for (const n of [1, 2]) {
      const data = Buffer.from(`From: alice@camp.test\r\nTo: bob@town.test\r\nMessage-ID: <w${n}@camp.test>\r\n\r\nhello ${n}\r\n`)
      camp.services.outbox.enqueue({ messageId: stableMessageId(data, 'alice@camp.test'), sender: 'alice@camp.test', data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
    }

    r = await camp.send('POST', `/api/transports/${ct.id}/run`)
    assert.equal(r.statusCode, 202, r.body)
    assert.deepEqual(r.json(), { started: true })
    await camp.waitFor(isRun(ct.id, 'done'))
    const progress = camp.pushed.filter(isRun(ct.id, 'progress')) as OutpostEvent<'transport.run'>[]
    assert.deepEqual(progress.map((e) => [e.id, e.data.done, e.data.total]), [[0, 2, 2]], 'progress goes out live and is not stored')
    assert.equal(readdirSync(join(shared, 'outpost', 'town')).filter((f) => f.endsWith('.obundle')).length, 1)

    r = await town.send('POST', `/api/transports/${tt.id}/run`)
    assert.equal(r.statusCode, 202)
    await town.waitFor(isRun(tt.id, 'done'))
    // An import counts the bytes of its bundle files: one bundle, ending at its size.
    const townProgress = town.pushed.filter(isRun(tt.id, 'progress')).map((e) => (e as OutpostEvent<'transport.run'>).data)
    assert.equal(townProgress.length, 1)
    assert.ok(townProgress[0]!.total! > 0 && townProgress[0]!.done === townProgress[0]!.total, JSON.stringify(townProgress))
    assert.equal(town.lmtp!.stored.length, 2, 'both messages reached the mailbox')
    await town.waitFor((e) => e.kind === 'message.delivered')
    // Stored events reach the bus through the table, as from any other process.
    const stored = town.pushed.filter((e) => e.id > 0).map((e) => e.kind)
    assert.deepEqual(stored.filter((k) => k === 'message.delivered').length, 2)
    assert.ok(stored.includes('bundle.imported'))

    // The list shows the last run and what it carried.
    const list = (await town.get('/api/transports')).json()
    assert.equal(list[0].lastRun.ok, true)
    assert.match(list[0].lastRun.detail, /imported 1 of 1 bundles/)
    assert.equal(list[0].running, false)
    const runs = (await town.get(`/api/transports/${tt.id}/runs`)).json()
    assert.equal(runs.length, 1)

    // A failing run: the error event says why.
    rmSync(shared, { recursive: true, force: true })
    await town.send('POST', `/api/transports/${tt.id}/run`)
    const failed = (await town.waitFor(isRun(tt.id, 'error'))) as OutpostEvent<'transport.run'>
    assert.match(failed.data.error ?? '', /is not there \(stick not plugged in/)

    // Unknown transport, bad id.
    assert.equal((await town.send('POST', '/api/transports/99/run')).statusCode, 404)
    r = await town.send('POST', '/api/transports/abc/run')
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /params.id must be integer/)
  } finally {
    await camp.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('adding, rescheduling and removing transports; bad input is refused with the reason; secrets are masked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webtr-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  try {
    await befriend(camp, town)
    const bad = async (payload: unknown, re: RegExp) => {
      const r = await camp.send('POST', '/api/transports', payload)
      assert.equal(r.statusCode, 400, r.body)
      assert.match(r.json().error, re)
    }
    await bad({ peer: 'town', kind: 'folder', options: { path: 'relative' } }, /path must be absolute/)
    await bad({ peer: 'town', kind: 'folder', options: {} }, /setting "path" is required/)
    await bad({ peer: 'nobody', kind: 'folder', options: { path: '/x' } }, /"nobody" is not a peer/)
    await bad({ peer: 'town', kind: 'pigeon', options: {} }, /unknown transport kind "pigeon"/)
    await bad({ peer: 'town', kind: 'folder', options: { path: '/x' }, schedule: 'every tuesday' }, /not a cron expression/)
    await bad({ peer: 'town', kind: 'folder' }, /body.options is required/)
    await bad({ peer: 'town', kind: 'folder', options: ['/x'] }, /body.options must be object/)

    let r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'syncthing', options: { folder: '/srv/sync', folder_id: 'outpost', api_key: 's3cret-key' }, schedule: 'event' })
    assert.equal(r.statusCode, 200, r.body)
    const t = r.json()
    assert.equal(t.options.api_key, '••••')
    assert.equal(t.options.folder, '/srv/sync')
    assert.deepEqual(t.nextRuns, [], 'an event transport has no clock')
    assert.ok(!(await camp.get('/api/transports')).body.includes('s3cret-key'), 'the key never leaves the box')
    assert.ok(!(await camp.get('/api/dashboard')).body.includes('s3cret-key'))

    r = await camp.send('PATCH', `/api/transports/${t.id}`, { schedule: '*/15 * * * *' })
    assert.equal(r.statusCode, 200)
    assert.equal(r.json().schedule, '*/15 * * * *')
    assert.equal(r.json().nextRuns.length, 5)
    r = await camp.send('PATCH', `/api/transports/${t.id}`, { schedule: '61 * * * *' })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /not a cron expression/)
    assert.equal((await camp.send('PATCH', '/api/transports/77', { schedule: '* * * * *' })).statusCode, 404)

    const kinds = (await camp.get('/api/transports/kinds')).json()
    const st = kinds.find((k: { kind: string }) => k.kind === 'syncthing')
    assert.deepEqual(st.options.find((o: { name: string }) => o.name === 'api_key'), { name: 'api_key', required: true, secret: true, help: st.options.find((o: { name: string }) => o.name === 'api_key').help })
    assert.deepEqual(kinds.map((k: { kind: string }) => k.kind).sort(), ['classic-fspl', 'classic-nncp', 'filespooler', 'folder', 'http', 'lora', 'nncp', 'syncthing'])

    r = await camp.send('DELETE', `/api/transports/${t.id}`)
    assert.equal(r.statusCode, 204)
    assert.deepEqual((await camp.get('/api/transports')).json(), [])
    assert.equal((await camp.send('DELETE', `/api/transports/${t.id}`)).statusCode, 404)

    // Without a session: 401, whatever the route.
    r = await camp.app.inject({ url: '/api/transports' })
    assert.equal(r.statusCode, 401)
  } finally {
    await camp.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the schedule preview reads the expression and lists the next five runs; a bad one says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webpv-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  try {
    let r = await camp.get(`/api/schedule/preview?schedule=${encodeURIComponent('0 8 * * 1,5')}`)
    assert.equal(r.statusCode, 200)
    const p = r.json()
    assert.equal(p.valid, true)
    assert.equal(p.text, 'at 08:00 on Monday and Friday')
    assert.equal(p.next.length, 5)
    for (const t of p.next) {
      const d = new Date(t)
      assert.ok([1, 5].includes(d.getDay()) && d.getHours() === 8 && d.getMinutes() === 0, `${d.toString()} is a Monday or Friday at 08:00`)
    }
    assert.ok(p.next[0] > Date.now())
    r = await camp.get('/api/schedule/preview?schedule=event')
    assert.deepEqual(r.json(), { valid: true, text: 'when mail is waiting (event)', next: [] })
    r = await camp.get('/api/schedule/preview?schedule=tomorrow')
    assert.equal(r.json().valid, false)
    assert.match(r.json().error, /not a cron expression/)
    r = await camp.get('/api/schedule/preview')
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /querystring.schedule is required/)
  } finally {
    await camp.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
