// How the gateway hands a message from the outbox to Haraka's outbound
// queue: line by line, exactly as Haraka's SMTP receiver would.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { forcedTlsHosts, transactionLines } from '../../../server/haraka/plugins/outpost_uplink.js'

test('lines end in CRLF, a leading dot is doubled, 8-bit bytes pass untouched', () => {
  const msg = Buffer.concat([Buffer.from('Subject: x\n\n.hidden\r\nplain\n'), Buffer.from([0xe4, 0x0a]), Buffer.from('last')])
  const lines = transactionLines(msg).map((l) => l.toString('latin1'))
  assert.deepEqual(lines, ['Subject: x\r\n', '\r\n', '..hidden\r\n', 'plain\r\n', '\xe4\r\n', 'last\r\n'])
})

test("the hosts Haraka must use TLS with are read from tls.ini's [outbound] force_tls_hosts, one or a list", () => {
  assert.deepEqual([...forcedTlsHosts({ outbound: { force_tls_hosts: 'Smtp.Relay.Example' } })], ['smtp.relay.example'])
  assert.deepEqual([...forcedTlsHosts({ outbound: { force_tls_hosts: ['a.example', '192.0.2.1'] } })], ['a.example', '192.0.2.1'])
  assert.deepEqual([...forcedTlsHosts({ outbound: { force_tls_hosts: 'a.example, b.example' } })], ['a.example', 'b.example'])
  assert.equal(forcedTlsHosts({ main: {} }).size, 0)
  assert.equal(forcedTlsHosts({ outbound: {} }).size, 0)
})
