// `outpost radio`'s text: the figures a person reads off the radio, and the
// hour bars scaled to the busiest hour.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { airtimeBars, radioText } from '../../../server/cli/radio.js'
import type { RadioState } from '../../../server/transports/lora/state.js'

const hours = Array.from({ length: 24 }, (_, i) => ({ hour: i * 3_600_000, airtimeMs: i === 23 ? 8000 : i === 20 ? 4000 : 0 }))
const state: RadioState = {
  transportId: 3, peer: 'town', port: '/dev/ttyACM0', listening: true, firmware: 'rnode', region: 'EU868',
  frequencyHz: 869_525_000, sf: 9, bandwidthHz: 125_000, codingRate: 5, txPowerDbm: 14, payloadBytes: 222, dutyPercent: 1,
  budget: { usedMs: 9000, limitMs: 36_000 },
  day: { airtimeMs: 12_000, framesSent: 40, framesResent: 6, framesReceived: 33, framesBad: 1, acksMissed: 2 },
  hours,
}

test('the radio\'s text names the port, the channel, the budget used and the day\'s frames', () => {
  const text = radioText(state)
  assert.match(text, /^radio 3 to town on \/dev\/ttyACM0 \(rnode firmware\), listening$/m)
  assert.match(text, /869\.525 MHz, SF9, 125 kHz, CR 4\/5, 14 dBm, 222-byte frames; region EU868, duty cycle 1%/)
  assert.match(text, /airtime +9\.0 s of 36\.0 s in the last hour \(25% of the budget\)/)
  assert.match(text, /12\.0 s on air; 40 frames sent, 6 resent, 33 received, 1 unreadable, 2 ACKs missed/)
  assert.doesNotMatch(radioText({ ...state, listening: null }), /listening/)
})

test('hour bars: the busiest hour is a full bar, half of it a middle one, a quiet hour a space', () => {
  const bars = airtimeBars(hours)
  assert.equal(bars.length, 24)
  assert.equal(bars[23], '█')
  assert.equal(bars[20], '▅')
  assert.equal(bars.slice(0, 20), ' '.repeat(20))
  assert.equal(airtimeBars(hours.map((h) => ({ ...h, airtimeMs: 0 }))), ' '.repeat(24))
})
