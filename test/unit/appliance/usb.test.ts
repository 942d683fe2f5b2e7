// The USB flow with a stand-in exchange and a recorded exec: what the
// person at the box sees (the LED) and what the box runs (sync). The
// button is the appliance daemon's (daemon.test.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Exec } from '../../../server/base/exec.js'
import { ManualClock, SimulatedLed } from '../../../server/appliance/gpio.js'
import { LedPatterns } from '../../../server/appliance/led.js'
import { offload, offloadAndRecord, type StickExchange, type UsbEvents } from '../../../server/appliance/usb.js'

function recordedExec(fail: Record<string, number> = {}) {
  const calls: string[] = []
  const exec: Exec = async (file, args) => {
    calls.push([file, ...args].join(' '))
    return { code: fail[file] ?? 0, stdout: '', stderr: fail[file] ? `${file} failed` : '' }
  }
  return { calls, exec }
}

function scene(exchange: Partial<StickExchange> = {}) {
  const clock = new ManualClock()
  const led = new SimulatedLed(clock)
  const patterns = new LedPatterns(led, clock)
  const stick = mkdtempSync(join(tmpdir(), 'op-usb-'))
  const steps: string[] = []
  const x: StickExchange = {
    importFrom: exchange.importFrom ?? (async () => (steps.push('import'), [])),
    exportTo: exchange.exportTo ?? (async () => (steps.push('export'), [{ peer: 'town', bundles: 1, messages: 2, acks: 0, relayed: 0, held: 0, bytes: 10, files: [] }])),
  }
  const lines: string[] = []
  return { clock, led, patterns, stick, steps, x, lines, log: (l: string) => lines.push(l), done: () => rmSync(stick, { recursive: true, force: true }) }
}

test('a good offload imports, exports, syncs the stick, and ends steady (safe to remove)', async () => {
  const s = scene()
  const { calls, exec } = recordedExec()
  try {
    const r = await offload(s.stick, { exchange: s.x, led: s.patterns, log: s.log, exec })
    assert.equal(r.ok, true)
    assert.deepEqual(s.steps, ['import', 'export'])
    assert.deepEqual(calls, [`sync -f ${s.stick}`])
    assert.deepEqual(s.patterns.history.map((h) => h.pattern), ['working', 'done'])
    assert.equal(s.led.on, true)
    assert.match(s.lines.join('\n'), /exported 2 messages and 0 acks for town; safe to remove/)
  } finally {
    s.done()
  }
})

test('a failed offload blinks the error pattern and says what to do', async () => {
  const s = scene({ exportTo: async () => Promise.reject(new Error('disk full')) })
  const { exec } = recordedExec()
  try {
    const r = await offload(s.stick, { exchange: s.x, led: s.patterns, log: s.log, exec })
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.error, /disk full.*Nothing is lost.*Plug the stick in again/)
    assert.equal(s.patterns.pattern, 'error')
  } finally {
    s.done()
  }
})

/** Events kept in memory, as the node's EventLog would keep them. */
function memoryEvents(): UsbEvents & { kinds: string[] } {
  const kinds: string[] = []
  return { kinds, record: ((kind: string) => (kinds.push(kind), undefined)) as unknown as UsbEvents['record'], recent: (() => []) as unknown as UsbEvents['recent'] }
}

test('a stick without an outpost folder is left as it is, the LED untouched, and the log says why', async () => {
  const s = scene()
  const { calls, exec } = recordedExec()
  const events = memoryEvents()
  try {
    writeFileSync(join(s.stick, 'holiday.jpg'), 'not mail')
    const r = await offloadAndRecord(s.stick, { exchange: s.x, led: s.patterns, log: s.log, exec, events })
    assert.equal(r.ok, true)
    assert.match(r.ok ? (r.skipped ?? '') : '', /no outpost folder at the root of the stick/)
    assert.deepEqual(s.steps, [], 'neither import nor export ran')
    assert.deepEqual(calls, [], 'not even sync')
    assert.deepEqual(events.kinds, [], 'no event: the LED follows events and stays as it was')
    assert.deepEqual(s.patterns.history, [])
    assert.deepEqual(readdirSync(s.stick), ['holiday.jpg'], 'nothing written to the stick')
    assert.match(s.lines.join('\n'), /not an Outpost stick.*make a folder named outpost/)
  } finally {
    s.patterns.close()
    s.done()
  }
})

test('a prepared stick (its outpost folder made once) is offloaded by the unit\'s path', async () => {
  const s = scene()
  const { exec } = recordedExec()
  const events = memoryEvents()
  try {
    mkdirSync(join(s.stick, 'outpost'))
    const r = await offloadAndRecord(s.stick, { exchange: s.x, led: s.patterns, log: s.log, exec, events })
    assert.equal(r.ok, true)
    assert.equal(r.ok && r.skipped, undefined)
    assert.deepEqual(s.steps, ['import', 'export'])
    assert.deepEqual(events.kinds.slice(0, 2), ['usb.inserted', 'usb.offload'])
  } finally {
    s.patterns.close()
    s.done()
  }
})
