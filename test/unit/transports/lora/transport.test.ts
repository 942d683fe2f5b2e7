// The lora transport's settings: defaults from the region, checks that name
// the key, and a stored config that parses again (the service keeps the
// user's words and reads them at each run).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { driverFor } from '../../../../server/transports/registry.js'
import { loraSettings, loraTransport, narrowBundleBytes } from '../../../../server/transports/lora/transport.js'
import { resendPolicyFor } from '../../../../server/outbox/resend-policy.js'

test('lora is a registered carrier with the backoff resend policy', () => {
  assert.equal(driverFor('lora'), loraTransport)
  assert.equal(resendPolicyFor('lora').kind, 'backoff')
})

test('defaults: EU868 on 869.525 MHz at 1%, SF9/125 kHz, 222-byte frames; the stored config parses again', () => {
  const stored = loraTransport.parseConfig({ port: '/dev/ttyACM0' })
  assert.deepEqual(loraTransport.parseConfig(stored), stored)
  const s = loraSettings(stored)
  assert.equal(s.frequency, 869_525_000)
  assert.equal(s.duty, 0.01)
  assert.deepEqual(s.modulation, { sf: 9, bw: 125000, cr: 5, preamble: 8 })
  assert.equal(s.payload, 222)
  assert.equal(loraSettings(loraTransport.parseConfig({ port: '/dev/ttyACM0', region: 'EU433' })).duty, 0.1)
  assert.equal(loraSettings(loraTransport.parseConfig({ port: '/dev/ttyACM0', duty: '0.5' })).duty, 0.005)
})

test('bad settings are refused with the key and what it takes', () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{}, /setting "port" is required/],
    [{ port: 'ttyACM0' }, /port must be a device path/],
    [{ port: '/dev/x', sf: '13' }, /sf must be a whole number from 7 to 12/],
    [{ port: '/dev/x', bw: '100000' }, /bw must be one of/],
    [{ port: '/dev/x', region: 'MARS' }, /region "MARS" is not one of EU868/],
    [{ port: '/dev/x', duty: '0' }, /duty is a percentage/],
    [{ port: '/dev/x', firmware: 'meshtastic' }, /firmware is rnode or kiss/],
    [{ port: '/dev/x', speed: '9' }, /unknown setting "speed"/],
  ]
  for (const [raw, re] of bad) assert.throws(() => loraTransport.parseConfig(raw), re)
})

test('a narrow radio\'s bundle holds what fills bundle_seconds of full frames at the channel\'s settings', () => {
  const at = (extra: Record<string, string>) => narrowBundleBytes(loraSettings(loraTransport.parseConfig({ port: '/dev/ttyACM0', ...extra })))
  // SF9/125 kHz: a 222-byte frame is 1.107 s on air, so 30 s holds 27 frames of 196 bytes of bundle.
  assert.equal(at({}), 27 * 196)
  // Each step of SF about doubles the airtime: fewer bytes in the same seconds.
  assert.ok(at({ sf: '7' }) > 3 * at({}))
  assert.ok(at({ sf: '12' }) < at({}) / 5)
  assert.equal(at({ bundle_seconds: '60' }), 54 * 196)
  // Never less than one frame.
  assert.equal(at({ sf: '12', bundle_seconds: '1' }), 196)
})
