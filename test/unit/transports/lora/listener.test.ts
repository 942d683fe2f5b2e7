// The always-on radio inside one process: each node's listener holds its
// radio open; camp's run borrows the open link instead of opening the port
// again and sends over it; town's listener takes the bundle in with no run of its own. The radios
// are in-memory ports joined by the simulated channel.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode, type OpsNode } from '../../../helpers/ops-admin.js'
import { radioPair } from '../../../helpers/radio-sim.js'
import { waitFor } from '../../../helpers/wait.js'
import { stableMessageId } from '../../../../server/bundle/message-id.js'
import { exec } from '../../../../server/base/exec.js'
import { runTransport } from '../../../../server/transports/runner.js'
import { LoraListener } from '../../../../server/transports/lora/listener.js'
import { borrowRadio, lendRequested, lendRequestFile } from '../../../../server/transports/lora/session.js'
import { RadioLog } from '../../../../server/transports/lora/radio-log.js'
import type { RadioPort } from '../../../../server/transports/lora/radio-port.js'

async function befriend(a: OpsNode, b: OpsNode): Promise<void> {
  for (const [x, y] of [[a, b], [b, a]] as const) {
    const r = await y.send('POST', '/api/peers', { card: (await x.get('/api/self')).json().card })
    assert.equal(r.statusCode, 200, r.body)
  }
}

test('a run borrows the radio the listener holds open, and the peer\'s listener receives with no run of its own', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-listener-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test', { lmtp: true })
  const { ports } = radioPair({ modulation: { sf: 7, bw: 125000, cr: 5, preamble: 8 }, payload: 222, seed: 7 })
  const opened: string[] = []
  const closed: string[] = []
  const open = (port: RadioPort) => async (path: string) => {
    opened.push(path)
    return { ...port, close: async () => void closed.push(path) }
  }
  const listeners: LoraListener[] = []
  const lines: string[] = []
  try {
    await befriend(camp, town)
    const settings = { sf: '7', listen_seconds: '2' }
    let r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'lora', options: { port: '/dev/sim-camp', ...settings }, schedule: '0 0 1 1 *' })
    assert.equal(r.statusCode, 200, r.body)
    const campId = r.json().id as number
    r = await town.send('POST', '/api/transports', { peer: 'camp', kind: 'lora', options: { port: '/dev/sim-town', ...settings }, schedule: '0 0 1 1 *' })
    const townId = r.json().id as number

    for (const [n, port] of [[camp, ports[0]], [town, ports[1]]] as const) {
      const l = new LoraListener({ node: n.node, exchange: n.services.exchange, transports: () => n.services.transports.list(), log: (line) => lines.push(line), open: open(port) })
      listeners.push(l)
      await l.start()
    }
    assert.deepEqual(opened, ['/dev/sim-camp', '/dev/sim-town'])
    assert.deepEqual(listeners.map((l) => l.listening()), [[campId], [townId]])
    assert.throws(() => borrowRadio('/dev/sim-camp', 'elsewhere'), /in use by the LoRa transport to town; one radio serves one peer/)

    const data = Buffer.from('From: alice@camp.test\r\nTo: bob@town.test\r\nMessage-ID: <b1@camp.test>\r\n\r\nheard between runs\r\n')
    camp.services.outbox.enqueue({ messageId: stableMessageId(data, 'alice@camp.test'), sender: 'alice@camp.test', data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })

    const report = await runTransport({ node: camp.node, exchange: camp.services.exchange, service: camp.services.transports, exec, log: (line) => lines.push(line) }, campId)
    assert.equal(report.sentBundles, 1, report.detail)
    assert.deepEqual(opened, ['/dev/sim-camp', '/dev/sim-town'], 'the run opened no port of its own')
    assert.deepEqual(closed, [], 'and left the listener\'s radio open')
    await waitFor('the message at town\'s mailbox', () => town.lmtp!.stored.length === 1, { timeoutMs: 30_000 })
    assert.equal(town.services.transports.runs(townId).length, 0, 'town never ran its transport')

    // The run wrote its radio's figures as it ended; town's are written when its listener stops.
    const campDay = new RadioLog(camp.node.db).total(campId)
    assert.ok(campDay.framesSent >= 2 && campDay.airtimeMs > 0, JSON.stringify(campDay))
    for (const l of listeners) await l.stop()
    assert.deepEqual(closed.sort(), ['/dev/sim-camp', '/dev/sim-town'])
    const townDay = new RadioLog(town.node.db).total(townId)
    assert.ok(townDay.framesReceived >= 2 && townDay.framesSent >= 1, JSON.stringify(townDay))
    assert.equal(borrowRadio('/dev/sim-camp', 'town'), undefined, 'a stopped listener holds no radio')
  } finally {
    for (const l of listeners) await l.stop()
    await camp.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a radio that cannot be opened is reported once, with the reason, and tried again', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-listener-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  const lines: string[] = []
  let tries = 0
  const l = new LoraListener({
    node: camp.node, exchange: camp.services.exchange, transports: () => camp.services.transports.list(), log: (line) => lines.push(line),
    open: async (path) => {
      tries++
      throw new Error(`cannot open the radio at ${path}: No such file or directory`)
    },
  })
  try {
    await befriend(camp, town)
    const r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'lora', options: { port: '/dev/sim-unplugged' } })
    assert.equal(r.statusCode, 200, r.body)
    await l.start()
    await l.reload()
    await l.reload()
    assert.equal(tries, 3)
    assert.deepEqual(l.listening(), [])
    const reported = lines.filter((s) => s.includes('cannot listen'))
    assert.equal(reported.length, 1, lines.join('\n'))
    assert.match(reported[0]!, /transport 1 \(to town\) cannot listen: cannot open the radio at \/dev\/sim-unplugged: No such file/)
  } finally {
    await l.stop()
    await camp.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a radio unplugged while it listens is closed and opened again when it is back', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-listener-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  const lines: string[] = []
  const unplug: ((err?: Error) => void)[] = []
  let opens = 0
  const l = new LoraListener({
    node: camp.node, exchange: camp.services.exchange, transports: () => camp.services.transports.list(), log: (line) => lines.push(line),
    open: async () => {
      opens++
      return { write: async () => {}, onData: () => {}, close: async () => {}, onClose: (fn) => void unplug.push(fn) }
    },
  })
  try {
    await befriend(camp, town)
    const r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'lora', options: { port: '/dev/sim-usb' } })
    assert.equal(r.statusCode, 200, r.body)
    await l.start()
    assert.equal(opens, 1)
    unplug[0]!(new Error('Port is not open: disconnected'))
    assert.ok(lines.some((s) => /the radio at \/dev\/sim-usb went away \(Port is not open: disconnected\)/.test(s)), lines.join('\n'))
    await l.reload()
    assert.equal(opens, 2, 'opened again')
    assert.deepEqual(l.listening(), [1])
  } finally {
    await l.stop()
    await camp.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a run from another process asks for the radio: the listener lends it while the request stands, and takes it back after', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-listener-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  const lines: string[] = []
  const closedAt: number[] = []
  let opens = 0
  const l = new LoraListener({
    node: camp.node, exchange: camp.services.exchange, transports: () => camp.services.transports.list(), log: (line) => lines.push(line),
    open: async () => {
      opens++
      return { write: async () => {}, onData: () => {}, close: async () => void closedAt.push(Date.now()) }
    },
  })
  try {
    await befriend(camp, town)
    const r = await camp.send('POST', '/api/transports', { peer: 'town', kind: 'lora', options: { port: '/dev/sim-lend' } })
    assert.equal(r.statusCode, 200, r.body)
    await l.start()
    assert.deepEqual(l.listening(), [1])
    // This process stands in for `outpost transport run`: a live pid.
    mkdirSync(camp.node.paths.run, { recursive: true })
    writeFileSync(lendRequestFile(camp.node.paths.run, 1), String(process.pid))
    await waitFor('the radio lent', () => closedAt.length === 1, { timeoutMs: 10_000 })
    assert.deepEqual(l.listening(), [])
    await l.reload()
    assert.equal(opens, 1, 'not opened again while the request stands')
    rmSync(lendRequestFile(camp.node.paths.run, 1))
    await l.reload()
    assert.equal(opens, 2)
    assert.deepEqual(l.listening(), [1])
    assert.ok(lines.some((s) => /transport 1 lends its radio to a run from the command line/.test(s)), lines.join('\n'))
    // A request left by a process that is gone is ignored and removed.
    await l.stop()
    writeFileSync(lendRequestFile(camp.node.paths.run, 1), '2147483646')
    assert.equal(lendRequested(camp.node.paths.run, 1), false)
  } finally {
    await l.stop()
    await camp.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
