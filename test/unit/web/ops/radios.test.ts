// /api/radios: the LoRa radio's state as the web admin shows it, from the
// transport's settings, the airtime budget's hour on disk and the radio log
// in the database; other carriers are not radios, and the route is behind
// the admin login like the rest of /api.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode, type OpsNode } from '../../../helpers/ops-admin.js'
import { HOUR_MS, hourOf, RadioLog } from '../../../../server/transports/lora/radio-log.js'

async function befriend(a: OpsNode, b: OpsNode): Promise<void> {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const r = await y.send('POST', '/api/peers', { card: (await x.get('/api/self')).json().card })
    assert.equal(r.statusCode, 200, r.body)
  }
}

test('GET /api/radios shows the port, channel, airtime against the hour\'s budget, the day\'s frames and airtime per hour', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-radios-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  try {
    await befriend(camp, town)
    let r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'lora', options: { port: '/dev/ttyACM0', sf: '10', txpower: '10', region: 'EU868' }, schedule: '*/5 * * * *' })
    assert.equal(r.statusCode, 200, r.body)
    const lora = r.json().id as number
    r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'folder', options: { path: dir } })
    const folder = r.json().id as number
    // A second radio on the node, with a duty cycle of its own.
    r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'lora', options: { port: '/dev/ttyACM1' }, schedule: '*/5 * * * *' })
    assert.equal(r.statusCode, 200, r.body)
    const second = r.json().id as number

    const now = Date.now()
    // 9 s of the hour's 36 s already spent, as the first radio's budget file records it.
    const spool = join(camp.node.paths.spool, 'lora')
    mkdirSync(spool, { recursive: true })
    writeFileSync(join(spool, `airtime-${lora}.json`), JSON.stringify([{ at: now - 2 * HOUR_MS, ms: 7000 }, { at: now - 10 * 60_000, ms: 4000 }, { at: now - 60_000, ms: 5000 }]))
    const log = new RadioLog(camp.node.db)
    log.add(lora, { airtimeMs: 4000, framesSent: 20, framesResent: 3, framesReceived: 15, framesBad: 1, acksMissed: 2 }, now)
    log.add(lora, { airtimeMs: 7000, framesSent: 30, framesResent: 5, framesReceived: 25, framesBad: 0, acksMissed: 1 }, now - 2 * HOUR_MS)
    // Two days ago: outside the day the panel sums.
    log.add(lora, { airtimeMs: 9000, framesSent: 99, framesResent: 9, framesReceived: 9, framesBad: 9, acksMissed: 9 }, now - 48 * HOUR_MS)

    r = await camp.get('/api/radios')
    assert.equal(r.statusCode, 200, r.body)
    const radios = r.json()
    assert.equal(radios.length, 2, 'the folder transport is not a radio')
    const radio = radios.find((x: { transportId: number }) => x.transportId === lora)
    // The other radio's hour is its own: nothing spent.
    assert.deepEqual(radios.find((x: { transportId: number }) => x.transportId === second).budget, { usedMs: 0, limitMs: 36_000 })
    assert.deepEqual({ ...radio, hours: undefined }, {
      transportId: lora, peer: 'town', port: '/dev/ttyACM0', listening: null, firmware: 'rnode', region: 'EU868',
      frequencyHz: 869_525_000, sf: 10, bandwidthHz: 125_000, codingRate: 5, txPowerDbm: 10, payloadBytes: 222, dutyPercent: 1,
      budget: { usedMs: 9000, limitMs: 36_000 },
      day: { airtimeMs: 11_000, framesSent: 50, framesResent: 8, framesReceived: 40, framesBad: 1, acksMissed: 3 },
      hours: undefined,
    })
    assert.equal(radio.hours.length, 24)
    assert.equal(radio.hours[23].hour, hourOf(now))
    assert.equal(radio.hours[23].airtimeMs, 4000)
    assert.equal(radio.hours[21].airtimeMs, 7000)
    assert.equal(radio.hours.reduce((s: number, h: { airtimeMs: number }) => s + h.airtimeMs, 0), 11_000)

    assert.deepEqual((await camp.get(`/api/radios/${lora}`)).json(), radio)
    r = await camp.get(`/api/radios/${folder}`)
    assert.equal(r.statusCode, 404)
    assert.match(r.json().error, /not a LoRa radio/)

    // Behind the admin login.
    r = await camp.app.inject({ url: '/api/radios' })
    assert.ok(r.statusCode === 401 || r.statusCode === 403, `without a session: ${r.statusCode}`)
  } finally {
    await camp.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
