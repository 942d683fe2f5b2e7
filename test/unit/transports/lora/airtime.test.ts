// LoRa airtime against the figures Semtech's LoRa calculator and The Things
// Network's airtime calculator print (125 kHz, CR 4/5, 8-symbol preamble,
// explicit header, CRC on).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { airtimeMs, bitRate } from '../../../../server/transports/lora/airtime.js'

const at = (sf: number, bytes: number, bw = 125000) => airtimeMs({ sf, bw, cr: 5, preamble: 8 }, bytes)
const close = (got: number, want: number) => assert.ok(Math.abs(got - want) < 0.05, `${got.toFixed(3)} ms, expected ${want} ms`)

test('airtime matches the published calculator figures', () => {
  close(at(7, 10), 41.216) // SF7, 10 bytes: the figure Semtech's calculator opens with
  close(at(7, 64), 118.016) // LoRaWAN 51-byte payload + 13 bytes of header at SF7
  close(at(9, 64), 390.144)
  close(at(12, 64), 2793.472) // SF12 switches on low data rate optimisation
  close(at(7, 235), 368.896) // SF7 at its largest LoRaWAN frame
})

test('low data rate optimisation turns on by itself at SF11/SF12 on 125 kHz only', () => {
  const m = { sf: 12, bw: 125000, cr: 5, preamble: 8 }
  assert.ok(airtimeMs(m, 100) > airtimeMs({ ...m, lowDataRateOptimize: false }, 100))
  assert.equal(airtimeMs({ ...m, bw: 500000 }, 100), airtimeMs({ ...m, bw: 500000, lowDataRateOptimize: false }, 100))
})

test('a faster setting takes less air and a longer frame more', () => {
  assert.ok(at(7, 222) < at(9, 222) && at(9, 222) < at(12, 222))
  assert.ok(at(9, 222, 250000) < at(9, 222))
  assert.ok(at(9, 100) < at(9, 222))
  // SF7/125 kHz, CR 4/5 is the 5.47 kbit/s of the data sheets, SF12 the 293 bit/s.
  assert.ok(Math.abs(bitRate({ sf: 7, bw: 125000, cr: 5 }) - 5468.75) < 0.01)
  assert.ok(Math.abs(bitRate({ sf: 12, bw: 125000, cr: 5 }) - 292.97) < 0.01)
})
