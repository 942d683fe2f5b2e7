// Finding the box's Yggdrasil address among its interfaces.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { NetworkInterfaceInfo } from 'node:os'
import { isYggdrasilAddress, yggdrasilAddress } from '../../../server/base/yggdrasil.js'

function v6(address: string, internal = false): NetworkInterfaceInfo {
  return { address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal, cidr: `${address}/64`, scopeid: 0 }
}
function v4(address: string): NetworkInterfaceInfo {
  return { address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/24` }
}

test('200::/7 is Yggdrasil; neighbours of it and other addresses are not', () => {
  for (const a of ['200:1234:5678:9abc::1', '201::1', '2ff:ffff::1', '300:1::1', '3ff::2']) assert.equal(isYggdrasilAddress(a), true, a)
  for (const a of ['1ff::1', '400::1', '2001:db8::1', 'fe80::1', '::1', '::', '::ffff:192.168.1.2', '192.168.1.2', '0200', 'fd00::1']) assert.equal(isYggdrasilAddress(a), false, a)
})

test('the Yggdrasil address of the box, preferring the node address over a subnet one', () => {
  assert.equal(yggdrasilAddress({ lo: [v6('::1', true)], eth0: [v4('192.168.1.2'), v6('fe80::1')] }), undefined)
  assert.equal(yggdrasilAddress({ eth0: [v4('192.168.1.2')], tun0: [v6('200:abcd::1')] }), '200:abcd::1')
  assert.equal(yggdrasilAddress({ eth0: [v6('300:abcd::5')], tun0: [v6('203:abcd::1')] }), '203:abcd::1')
  assert.equal(yggdrasilAddress({ eth0: [v6('300:abcd::5')] }), '300:abcd::5')
})

test('it reads the real interfaces when given none (on this machine: whatever they hold)', () => {
  const a = yggdrasilAddress()
  assert.ok(a === undefined || isYggdrasilAddress(a))
})
