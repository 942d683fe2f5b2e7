// The USB flow with a stand-in exchange and a recorded exec: what the
// person at the box sees (the LED) and what the box runs (sync). The
// button is the appliance daemon's (daemon.test.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Exec } from '../../../server/base/exec.js'
import { ManualClock, SimulatedLed } from '../../../server/appliance/gpio.js'
import { LedPatterns } from '../../../server/appliance/led.js'
import { offload, type StickExchange } from '../../../server/appliance/usb.js'

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
    exportTo: exchange.exportTo ?? (async () => (steps.push('export'), [{ peer: 'town', bundles: 1, messages: 2, acks: 0, relayed: 0, bytes: 10, files: [] }])),
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
