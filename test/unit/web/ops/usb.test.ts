// The USB page's API: which sticks are plugged in (folders under the mount
// root), "export/import now" with progress events, and "safe to remove".
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode } from '../../../helpers/ops-admin.js'
import { setSetting } from '../../../../server/db/settings.js'
import { STICK_ROOT_SETTING } from '../../../../server/appliance/sticks.js'
import { stableMessageId } from '../../../../server/bundle/message-id.js'
import type { OutpostEvent } from '../../../../server/events/types.js'

test('sticks under the mount root are listed; offload writes what waits and reports progress; eject flushes; other paths are refused', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webusb-'))
  const root = join(dir, 'usb')
  const stick = join(root, 'sdb1')
  mkdirSync(join(stick, 'outpost'), { recursive: true })
  mkdirSync(join(root, 'not-a-stick'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  try {
    setSetting(camp.node.db, STICK_ROOT_SETTING, root)
    assert.equal((await camp.send('POST', '/api/peers', { card: (await town.get('/api/self')).json().card })).statusCode, 200)
    const data = Buffer.from('Message-ID: <u1@camp.test>\r\n\r\nby stick\r\n')
    camp.services.outbox.enqueue({ messageId: stableMessageId(data, 'alice@camp.test'), sender: 'alice@camp.test', data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })

    let u = (await camp.get('/api/usb')).json()
    assert.equal(u.offloading, null)
    assert.deepEqual(u.sticks.map((s: { path: string; label: string; bundles: number }) => [s.path, s.label, s.bundles]), [[stick, 'sdb1', 0]])
    assert.ok(u.sticks[0].freeBytes > 0)

    let r = await camp.send('POST', '/api/usb/offload', { path: stick })
    assert.equal(r.statusCode, 202, r.body)
    const isOffload = (phase: string) => (e: OutpostEvent) => e.kind === 'usb.offload' && (e as OutpostEvent<'usb.offload'>).data.phase === phase
    const done = (await camp.waitFor((e) => isOffload('done')(e) || isOffload('error')(e))) as OutpostEvent<'usb.offload'>
    assert.equal(done.data.phase, 'done', done.data.error)
    assert.equal(done.data.path, stick)
    assert.ok(camp.pushed.some(isOffload('start')))
    assert.deepEqual((camp.pushed.filter(isOffload('progress')) as OutpostEvent<'usb.offload'>[]).map((e) => [e.id, e.data.done, e.data.total]).at(-1), [0, 1, 1])
    assert.equal(readdirSync(join(stick, 'outpost', 'town')).filter((f) => f.endsWith('.obundle')).length, 1)
    await camp.waitFor((e) => e.kind === 'bundle.exported' && (e as OutpostEvent<'bundle.exported'>).data.via === 'usb')
    u = (await camp.get('/api/usb')).json()
    assert.equal(u.sticks[0].bundles, 1)
    assert.equal(u.offloading, null)

    r = await camp.send('POST', '/api/usb/eject', { path: stick })
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual(r.json(), { safe: true })

    for (const path of [join(root, 'missing'), dir, '/etc', `${stick}/../../camp`]) {
      r = await camp.send('POST', '/api/usb/offload', { path })
      assert.equal(r.statusCode, 404, path)
      assert.match(r.json().error, /is not a stick: plugged sticks are folders right under/)
    }
    r = await camp.send('POST', '/api/usb/eject', {})
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /body.path is required/)
  } finally {
    await Promise.all([camp.close(), town.close()])
    rmSync(dir, { recursive: true, force: true })
  }
})
