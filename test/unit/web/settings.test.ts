// Settings from the web admin: written where they are read, the hotspot
// passphrase never shown back, and what needs a restart said so.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { adminFixture } from '../../helpers/web-admin.js'
import { loadConfig } from '../../../server/config/file.js'

test('settings round trip: outpost.toml and the settings table change, the passphrase is never shown, restarts are named', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    let r = await f.app.inject({ url: '/api/settings', headers: { cookie: s.cookie } })
    assert.equal(r.statusCode, 200)
    const before = r.json()
    assert.deepEqual(before.node, { name: 'camp', domain: 'camp.test' })
    assert.deepEqual(before.hotspot, { ssid: 'Outpost', passphraseSet: false, channel: 6 })
    assert.deepEqual(before.retention, { days: 20, largeDays: 7 })

    const secret = 'our camp wifi 2026'
    r = await f.app.inject({
      method: 'PATCH',
      url: '/api/settings',
      headers: s.headers,
      payload: { node: { name: 'basecamp' }, retention: { days: 30 }, hotspot: { ssid: 'Camp', passphrase: secret }, firstLogin: { enabled: true } },
    })
    assert.equal(r.statusCode, 200, r.body)
    const after = r.json()
    assert.deepEqual(after.node, { name: 'basecamp', domain: 'camp.test' })
    assert.deepEqual(after.retention, { days: 30, largeDays: 7 })
    assert.deepEqual(after.hotspot, { ssid: 'Camp', passphraseSet: true, channel: 6 })
    assert.deepEqual(after.firstLogin, { enabled: true })
    assert.ok(!r.body.includes(secret), 'the passphrase is not in the answer')
    assert.ok(after.restartNeeded.some((x: string) => x.startsWith('node')))
    assert.ok(after.restartNeeded.some((x: string) => x.startsWith('hotspot')))
    assert.ok(!after.restartNeeded.some((x: string) => x.startsWith('retention')), 'retention applies at once')
    assert.equal(f.node.config.mail.expiry_days, 30, 'the running node has the new retention')

    // The file holds it, documented, and start would read it.
    const file = loadConfig(f.node.paths.config, {}).config
    assert.equal(file.node.name, 'basecamp')
    assert.equal(file.hotspot.passphrase, secret)
    assert.match(readFileSync(f.node.paths.config, 'utf8'), /# The WPA2 passphrase/)

    r = await f.app.inject({ url: '/api/settings', headers: { cookie: s.cookie } })
    assert.ok(!r.body.includes(secret))
    assert.deepEqual({ ...(r.json() as object), restartNeeded: after.restartNeeded }, after)

    // Nothing changed, nothing to restart.
    r = await f.app.inject({ method: 'PATCH', url: '/api/settings', headers: s.headers, payload: { node: { name: 'basecamp' } } })
    assert.deepEqual(r.json().restartNeeded, [])
  } finally {
    await f.close()
  }
})

test('bad settings are refused with a message that names the setting, and nothing is written', async () => {
  const f = await adminFixture()
  try {
    const s = await f.setup()
    const file = readFileSync(f.node.paths.config, 'utf8')
    const cases: [unknown, RegExp][] = [
      [{ hotspot: { passphrase: 'short' } }, /passphrase/],
      [{ hotspot: { channel: 14 } }, /channel/],
      [{ node: { name: 'Not A Name' } }, /node\.name/],
      [{ retention: { days: 0 } }, /days/],
      [{ retention: { days: 5, largeDays: 9 } }, /largeDays/],
      [{ limits: { perMinute: 'lots' } }, /perMinute/],
      [{ nonsense: true }, /nonsense|additional/],
    ]
    for (const [payload, msg] of cases) {
      const r = await f.app.inject({ method: 'PATCH', url: '/api/settings', headers: s.headers, payload: payload as object })
      assert.equal(r.statusCode, 400, JSON.stringify(payload))
      assert.match(r.json().error, msg, JSON.stringify(payload))
    }
    assert.equal(readFileSync(f.node.paths.config, 'utf8'), file)

    await f.node.accounts.add('alice@camp.test')
    const r = await f.app.inject({ method: 'PATCH', url: '/api/settings', headers: s.headers, payload: { node: { domain: 'other.test' } } })
    assert.equal(r.statusCode, 409)
    assert.match(r.json().error, /accounts/)
  } finally {
    await f.close()
  }
})
