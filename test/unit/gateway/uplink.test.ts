// The uplink settings and the probe that acts when the gateway appears, on
// a fresh database with the real migrations and a probe the test controls.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { UplinkService } from '../../../server/gateway/uplink.js'
import { UplinkMonitor } from '../../../server/gateway/monitor.js'
import { EventLog } from '../../../server/events/log.js'
import type { PeerService } from '../../../server/peers/service.js'
import type { TransportService } from '../../../server/transports/service.js'

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'op-uplink-'))
  const db = openDb(join(dir, 'outpost.db'))
  return { dir, db, uplink: new UplinkService(db, join(dir, 'keys')), done: () => (db.$client.close(), rmSync(dir, { recursive: true, force: true })) }
}

test('settings: a gateway uplink needs a known peer; the smarthost password is never shown', () => {
  const { dir, db, uplink, done } = setup()
  try {
    assert.equal(uplink.describe().kind, 'none')
    assert.throws(() => uplink.configure({ kind: 'gateway', peer: 'nobody' }, () => false), /not a peer/)
    assert.throws(() => uplink.configure({ kind: 'carrier-pigeon' }, () => true), /not one of/)
    const v = uplink.configure({ kind: 'gateway', peer: 'town', probeSeconds: 5 }, () => true)
    assert.deepEqual([v.kind, v.peer, v.probeSeconds], ['gateway', 'town', 5])
    assert.equal(uplink.gatewayPeer(), 'town')

    assert.throws(() => uplink.setSmarthost({ host: 'smtp.example.net', port: 465, user: 'gw@example.net', password: 'pw' }), /465 .*use the relay's submission port 587/)
    assert.equal(uplink.describe().smarthost, null, 'a refused smarthost stores nothing')
    uplink.setSmarthost({ host: 'smtp.example.net', port: 587, user: 'gw@example.net', password: 'very-secret-pw' })
    const shown = JSON.stringify(uplink.describe())
    assert.ok(!shown.includes('very-secret-pw'))
    assert.match(shown, /"password":"set"/)
    const row = db.$client.prepare("SELECT value FROM settings WHERE key = 'uplink.smarthost'").get() as { value: string }
    assert.ok(!row.value.includes('very-secret-pw'), 'stored sealed')
    assert.equal(uplink.smarthostForDelivery()?.password, 'very-secret-pw')
    assert.ok(!readFileSync(join(dir, 'keys', 'secrets.key'), 'utf8').includes('very-secret-pw'))
    uplink.clearSmarthost()
    assert.equal(uplink.smarthostForDelivery(), undefined)
  } finally {
    done()
  }
})

test('the probe records online and offline once each, moves lastOnline, and runs the transports when the gateway appears', async () => {
  const { db, uplink, done } = setup()
  try {
    uplink.configure({ kind: 'gateway', peer: 'town' }, () => true)
    const peers = { get: (n: string) => (n === 'town' ? { name: 'town', reach: [], sign: '', age: '', domains: [], addedAt: 0 } : undefined) } as unknown as PeerService
    const transports = { list: () => [{ id: 1, peer: 'town', kind: 'http', config: { url: 'https://192.0.2.7:8443' }, schedule: '0 * * * *', enabled: true, createdAt: 0 }] } as unknown as TransportService
    let answering = false
    const probed: string[] = []
    const ran: string[] = []
    const events = new EventLog(db)
    const monitor = new UplinkMonitor({ uplink, peers, transports, events, runPeer: (p) => ran.push(p), log: () => undefined, probe: async (t) => (probed.push(`${t.host}:${t.port}`), answering) })
    let now = 1000
    assert.equal(await monitor.probeOnce(() => now), false)
    assert.deepEqual(ran, [], 'nothing runs while the gateway is away')
    answering = true
    now = 2000
    assert.equal(await monitor.probeOnce(() => now), true)
    assert.deepEqual(ran, ['town'], 'the transports run as soon as it answers')
    now = 3000
    await monitor.probeOnce(() => now)
    assert.deepEqual(ran, ['town'], 'once per coming-up, not per probe')
    assert.equal(uplink.describe().lastOnline, 3000)
    answering = false
    now = 4000
    await monitor.probeOnce(() => now)
    assert.equal(uplink.describe().online, false)
    assert.equal(uplink.describe().lastOnline, 3000, 'last online stays at the last answer')
    assert.deepEqual(probed[0], '192.0.2.7:8443', "the HTTP transport's address is probed")
    assert.deepEqual(events.recent({ kinds: ['uplink.online', 'uplink.offline'] }).map((e) => e.kind).reverse(), ['uplink.online', 'uplink.offline'])
  } finally {
    done()
  }
})

test('a new address that answers is a coming-up of its own: the transports run, though the old address was online too', async () => {
  const { db, uplink, done } = setup()
  try {
    uplink.configure({ kind: 'gateway', peer: 'town' }, () => true)
    const peers = { get: (n: string) => (n === 'town' ? { name: 'town', reach: [], sign: '', age: '', domains: [], addedAt: 0 } : undefined) } as unknown as PeerService
    let url = 'https://192.0.2.7:8443'
    const transports = { list: () => [{ id: 1, peer: 'town', kind: 'http', config: { url }, schedule: '0 * * * *', enabled: true, createdAt: 0 }] } as unknown as TransportService
    const ran: string[] = []
    const logged: string[] = []
    const monitor = new UplinkMonitor({ uplink, peers, transports, events: new EventLog(db), runPeer: (p) => ran.push(p), log: (l) => logged.push(l), probe: async () => true })
    await monitor.probeOnce(() => 1000)
    await monitor.probeOnce(() => 2000)
    assert.deepEqual(ran, ['town'], 'once when it came up')
    url = 'https://192.0.2.8:9443'
    await monitor.probeOnce(() => 3000)
    assert.deepEqual(ran, ['town', 'town'], 'the transport now points elsewhere, and that place answering runs it')
    assert.match(logged.at(-1) ?? '', /answers at 192\.0\.2\.8:9443; running its transports now/)
    await monitor.probeOnce(() => 4000)
    assert.deepEqual(ran, ['town', 'town'], 'and only once')
  } finally {
    done()
  }
})

test("an email-account uplink is probed at its SMTP server and run when it answers, and again each minute while it does", async () => {
  const { db, uplink, done } = setup()
  try {
    uplink.setAccount({ address: 'group@provider.example', smtpHost: 'smtp.provider.example', smtpPort: 587, imapHost: 'imap.provider.example', imapPort: 143, user: 'group@provider.example', password: 'pw-account-1', insecureTls: false })
    uplink.configure({ kind: 'account' }, () => true)
    assert.ok(uplink.sendsThroughAccount())
    assert.ok(!JSON.stringify(uplink.describe()).includes('pw-account-1'))
    const runs: number[] = []
    const probed: string[] = []
    const monitor = new UplinkMonitor({
      uplink,
      peers: {} as PeerService,
      transports: {} as TransportService,
      events: new EventLog(db),
      runPeer: () => assert.fail('no peer to run'),
      runAccount: () => runs.push(1),
      log: () => undefined,
      probe: async (t) => (probed.push(`${t.host}:${t.port}`), true),
    })
    await monitor.probeOnce(() => 1000)
    await monitor.probeOnce(() => 2000)
    assert.equal(runs.length, 1, 'once when it came up')
    await monitor.probeOnce(() => 62_000)
    assert.equal(runs.length, 2, 'again after a minute online')
    assert.equal(probed[0], 'smtp.provider.example:587')
    uplink.clearAccount()
    assert.equal(uplink.describe().kind, 'none')
    assert.equal(uplink.sendsThroughAccount(), false)
  } finally {
    done()
  }
})
