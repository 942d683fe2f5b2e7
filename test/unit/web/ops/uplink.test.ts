// The uplink settings in the web admin, over real node dirs: choose the
// gateway peer, set and clear the smarthost (its password goes in, is
// stored sealed, and never comes back in any answer), make a DKIM key whose
// record is the one `outpost dkim` prints, and refuse what is wrong.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { opsNode, type OpsNode } from '../../../helpers/ops-admin.js'
import { runCli } from '../../../helpers/node.js'
import { settings } from '../../../../server/db/schema.js'
import { UplinkService } from '../../../../server/gateway/uplink.js'

const PASSWORD = 'Sm4rt-h0st-s3cret-pw'

async function befriend(a: OpsNode, b: OpsNode): Promise<void> {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const r = await y.send('POST', '/api/peers', { card: (await x.get('/api/self')).json().card })
    assert.equal(r.statusCode, 200, r.body)
  }
}

function put(n: OpsNode, url: string, payload: unknown) {
  return n.app.inject({ method: 'PUT', url, headers: n.session.headers, payload: payload as object })
}

test('the uplink round trip: gateway peer, probe interval, smarthost set and cleared; the password is sealed and never shown', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webup-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const gw = await opsNode(join(dir, 'gw'), 'gw.test')
  const answers: string[] = []
  const seen = <T extends { body: string }>(r: T) => (answers.push(r.body), r)
  try {
    await befriend(camp, gw)
    let r = seen(await camp.get('/api/uplink'))
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual(r.json(), { gateway: false, kind: 'none', peer: null, probeSeconds: 30, online: null, lastOnline: null, smarthost: null, account: null, dkim: [] })

    r = seen(await camp.send('PATCH', '/api/uplink', { kind: 'gateway', peer: 'gw', probeSeconds: 10 }))
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual([r.json().kind, r.json().peer, r.json().probeSeconds], ['gateway', 'gw', 10])
    // What the node's probe records shows up as online / last online.
    new UplinkService(camp.node.db, camp.node.paths.keysDir).recordProbe(true, 1_700_000_000_000)
    r = seen(await camp.get('/api/uplink'))
    assert.deepEqual([r.json().online, r.json().lastOnline], [true, 1_700_000_000_000])

    r = seen(await put(gw, '/api/uplink/smarthost', { host: 'smtp.provider.test', port: 587, user: 'group@provider.test', password: PASSWORD }))
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual(r.json().smarthost, { host: 'smtp.provider.test', port: 587, user: 'group@provider.test', passwordSet: true })
    r = seen(await gw.get('/api/uplink'))
    assert.deepEqual(r.json().smarthost, { host: 'smtp.provider.test', port: 587, user: 'group@provider.test', passwordSet: true })

    // Stored sealed: neither the settings row nor the database file holds it in clear; the delivery side opens it.
    const row = gw.node.db.select().from(settings).where(eq(settings.key, 'uplink.smarthost')).get()
    assert.ok(row && !row.value.includes(PASSWORD), 'the settings row holds no clear password')
    assert.match(JSON.parse(row.value).password, /^v1\./)
    for (const f of [gw.node.paths.db, `${gw.node.paths.db}-wal`]) if (existsSync(f)) assert.ok(!readFileSync(f).includes(PASSWORD), `${f} holds no clear password`)
    assert.equal(new UplinkService(gw.node.db, gw.node.paths.keysDir).smarthostForDelivery()?.password, PASSWORD)

    // The email-account uplink: the same write-only password.
    r = seen(await put(camp, '/api/uplink/account', { address: 'Group@Provider.test', smtpHost: 'smtp.provider.test', smtpPort: 587, imapHost: 'imap.provider.test', imapPort: 143, password: PASSWORD }))
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual(r.json().account, { address: 'group@provider.test', smtpHost: 'smtp.provider.test', smtpPort: 587, imapHost: 'imap.provider.test', imapPort: 143, user: 'Group@Provider.test', insecureTls: false, passwordSet: true })
    r = seen(await camp.send('PATCH', '/api/uplink', { kind: 'account' }))
    assert.equal(r.json().kind, 'account')
    r = seen(await camp.send('DELETE', '/api/uplink/account'))
    assert.deepEqual([r.json().account, r.json().kind], [null, 'none'], 'without the account the uplink is none again')

    r = seen(await gw.send('DELETE', '/api/uplink/smarthost'))
    assert.equal(r.statusCode, 200)
    assert.equal(r.json().smarthost, null)
    assert.equal(seen(await gw.get('/api/uplink')).json().smarthost, null)

    for (const body of answers) assert.ok(!body.includes(PASSWORD) && !body.includes('v1.'), `no answer carries the password, clear or sealed: ${body}`)
  } finally {
    await camp.close()
    await gw.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('uplink changes need a session and the CSRF token; bad input is a 400 naming the field, and changes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webupbad-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  try {
    for (const [method, url] of [['GET', '/api/uplink'], ['PATCH', '/api/uplink'], ['PUT', '/api/uplink/smarthost'], ['DELETE', '/api/uplink/smarthost'], ['PUT', '/api/uplink/account'], ['POST', '/api/dkim']] as const) {
      const r = await camp.app.inject({ method, url, ...(method === 'GET' || method === 'DELETE' ? {} : { payload: {} }) })
      assert.equal(r.statusCode, 401, `${method} ${url} without a session`)
      if (method !== 'GET') {
        const c = await camp.app.inject({ method, url, headers: { cookie: camp.session.cookie }, ...(method === 'DELETE' ? {} : { payload: {} }) })
        assert.equal(c.statusCode, 403, `${method} ${url} without the CSRF token`)
        assert.match(c.json().error, /CSRF/)
      }
    }
    const smart = { host: 'smtp.provider.test', port: 587, user: 'u', password: PASSWORD }
    const bad = async (method: 'PATCH' | 'PUT' | 'POST', url: string, payload: unknown, re: RegExp) => {
      const r = method === 'PUT' ? await put(camp, url, payload) : await camp.send(method, url, payload)
      assert.equal(r.statusCode, 400, r.body)
      assert.match(r.json().error, re)
      assert.ok(!r.body.includes(PASSWORD), 'a refusal does not echo the password')
    }
    await bad('PATCH', '/api/uplink', { kind: 'pigeon' }, /body\.kind/)
    await bad('PATCH', '/api/uplink', { probeSeconds: 0 }, /body\.probeSeconds must be >= 1/)
    await bad('PATCH', '/api/uplink', { peer: 'nobody' }, /"nobody" is not a peer of this node/)
    await bad('PATCH', '/api/uplink', { kind: 'gateway' }, /needs the gateway peer/)
    await bad('PATCH', '/api/uplink', { kind: 'account' }, /needs the account first/)
    await bad('PATCH', '/api/uplink', { colour: 'red' }, /body\.colour is not a known field/)
    await bad('PATCH', '/api/uplink', {}, /body must NOT have fewer than 1 properties/)
    await bad('PUT', '/api/uplink/smarthost', { ...smart, port: 70000 }, /body\.port must be <= 65535/)
    await bad('PUT', '/api/uplink/smarthost', { ...smart, password: '' }, /body\.password must NOT have fewer than 1 characters/)
    await bad('PUT', '/api/uplink/smarthost', { ...smart, host: 'smtp provider' }, /smarthost "smtp provider" is not a host name/)
    await bad('PUT', '/api/uplink/smarthost', { host: 'h.test', port: 25, user: 'u' }, /body\.password is required/)
    await bad('PUT', '/api/uplink/account', { address: 'a+b@provider.test', smtpHost: 'h', smtpPort: 587, imapHost: 'h', imapPort: 143, password: PASSWORD }, /not a plain email address/)
    await bad('POST', '/api/dkim', { domain: '../etc' }, /"..\/etc" is not a domain name/)
    await bad('POST', '/api/dkim', { selector: 'Not OK' }, /selector "Not OK" must be lower-case/)
    const r = await camp.get('/api/uplink')
    assert.deepEqual([r.json().kind, r.json().peer, r.json().smarthost, r.json().dkim], ['none', null, null, []], 'nothing refused was stored')
  } finally {
    await camp.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a DKIM key made from the web admin: its record is what `outpost dkim` prints, kept until rotated under a new selector', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webdkim-'))
  const data = join(dir, 'gw')
  const gw = await opsNode(data, 'gw.test')
  try {
    let r = await gw.send('POST', '/api/dkim', {})
    assert.equal(r.statusCode, 200, r.body)
    const first = r.json()
    assert.equal(first.created, true)
    assert.equal(first.key.domain, 'gw.test', "the node's own domain by default")
    assert.equal(first.key.name, `${first.key.selector}._domainkey.gw.test`)
    assert.match(first.key.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/)
    assert.ok(!r.body.includes('PRIVATE KEY'), 'the private key stays on the box')

    const cli = await runCli(['dkim', 'gw.test', '--data', data])
    assert.equal(cli.code, 0, cli.stderr)
    assert.ok(cli.stdout.split('\n').includes(first.key.record), `outpost dkim prints the same record:\n${cli.stdout}\n---\n${first.key.record}`)

    r = await gw.send('POST', '/api/dkim', { domain: 'gw.test' })
    assert.deepEqual(r.json(), { created: false, key: first.key }, 'asked again, the key is kept')
    r = await gw.send('POST', '/api/dkim', { domain: 'gw.test', rotate: true, selector: 'next1' })
    assert.equal(r.json().created, true)
    assert.equal(r.json().key.selector, 'next1')
    assert.notEqual(r.json().key.value, first.key.value)
    const list = (await gw.get('/api/uplink')).json().dkim
    assert.deepEqual(list, [r.json().key])
    const again = await runCli(['dkim', 'list', '--data', data])
    assert.ok(again.stdout.split('\n').includes(list[0].record), 'outpost dkim list prints the rotated record')
  } finally {
    await gw.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
