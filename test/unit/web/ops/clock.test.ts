// The clock in the web admin: the floor and what set it, and the reset.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode } from '../../../helpers/ops-admin.js'

test('the admin sees the floor a peer pushed and resets it to the node’s own time', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webclock-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  try {
    const ahead = Date.now() + 36 * 3600_000
    assert.equal(camp.node.clock.observePeerTime(ahead, 'town'), true)
    const before = (await camp.get('/api/clock')).json()
    assert.equal(before.source.kind, 'peer')
    assert.equal(before.source.peer, 'town')
    assert.ok(before.floor >= ahead && before.peerLeadMs > 35 * 3600_000)
    assert.deepEqual((await camp.get('/api/dashboard')).json().clock.source, before.source)

    assert.equal((await camp.app.inject({ method: 'POST', url: '/api/clock/reset', headers: { cookie: camp.session.cookie } })).statusCode, 403, 'a change needs the CSRF token')
    const after = (await camp.send('POST', '/api/clock/reset', {})).json()
    assert.equal(after.source.kind, 'reset')
    assert.equal(after.peerLeadMs, 0)
    assert.ok(after.now < ahead)
  } finally {
    await camp.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
