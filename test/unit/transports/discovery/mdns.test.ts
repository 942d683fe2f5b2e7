// The records an Outpost box announces by mDNS, and how a box reads what
// others announce: pure functions, no socket. Addresses are from the
// documentation ranges (192.0.2.0/24, 2001:db8::/32) and never contacted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { signFingerprint } from '../../../../server/identity/card.js'
import { announcement, answerQuery, hostName, instanceName, parseResponse, parseTxt, SERVICE_TYPE, SightingMemory, type MdnsRecord, type SelfRecord } from '../../../../server/transports/discovery/mdns.js'

const fp = () => signFingerprint(randomBytes(32).toString('base64url'))
const camp: SelfRecord = { name: 'camp.north', signFingerprint: fp(), port: 8443, addresses: ['192.0.2.10'] }

/** A record as dns-packet decodes it off the wire: TXT strings arrive as Buffers. */
function decoded(r: MdnsRecord): MdnsRecord {
  return r.type === 'TXT' ? { ...r, data: (r.data as string[]).map((s) => Buffer.from(s)) } : r
}
function asReceived(p: { answers: MdnsRecord[]; additionals: MdnsRecord[] }) {
  return { answers: p.answers.map(decoded), additionals: p.additionals.map(decoded) }
}

test('a box announces PTR → instance, SRV → its web port, TXT with v, name and fingerprint, and its addresses', () => {
  const a = announcement(camp)
  const instance = instanceName('camp.north')
  assert.equal(instance, 'camp.north._outpost._tcp.local')
  assert.deepEqual(a.answers, [{ name: SERVICE_TYPE, type: 'PTR', ttl: 120, data: instance }])
  const srv = a.additionals.find((r) => r.type === 'SRV')!
  assert.deepEqual(srv.data, { priority: 0, weight: 0, port: 8443, target: hostName(camp.signFingerprint) })
  assert.deepEqual(a.additionals.find((r) => r.type === 'TXT')!.data, ['v=1', 'name=camp.north', `fp=${camp.signFingerprint}`])
  assert.deepEqual(a.additionals.filter((r) => r.type === 'A').map((r) => [r.name, r.data]), [[hostName(camp.signFingerprint), '192.0.2.10']])
  // The host label fits DNS's 63-byte limit whatever the node name is.
  assert.match(hostName(camp.signFingerprint), /^outpost-[0-9a-f]{16}\.local$/)
  assert.ok(announcement(camp, 0).additionals.every((r) => r.ttl === 0), 'a goodbye has ttl 0 everywhere')
})

test('what one box announces, another reads back as a sighting, the packet source first', () => {
  const { sightings, goodbyes } = parseResponse(asReceived(announcement({ ...camp, addresses: ['192.0.2.10', '2001:db8::10'] })), '192.0.2.99')
  assert.deepEqual(goodbyes, [])
  assert.deepEqual(sightings, [{ name: 'camp.north', signFingerprint: camp.signFingerprint, addresses: ['192.0.2.99', '192.0.2.10', '2001:db8::10'], port: 8443 }])
})

test('with no announced address, the packet source is where the box is', () => {
  const { sightings } = parseResponse(asReceived(announcement({ ...camp, addresses: [] })), '192.0.2.10')
  assert.deepEqual(sightings[0]?.addresses, ['192.0.2.10'])
})

test('a loopback or link-local address announced over the LAN is not passed on', () => {
  const { sightings } = parseResponse(asReceived(announcement({ ...camp, addresses: ['127.0.0.1', 'fe80::1', '0.0.0.0', '224.0.0.251'] })), '192.0.2.10')
  assert.deepEqual(sightings[0]?.addresses, ['192.0.2.10'])
})

test('a goodbye is read as one, not as a sighting', () => {
  const { sightings, goodbyes } = parseResponse(asReceived(announcement(camp, 0)), '192.0.2.10')
  assert.deepEqual(sightings, [])
  assert.deepEqual(goodbyes, ['camp.north'])
})

test('TXT keys are case-insensitive, the first one wins, and junk items are skipped', () => {
  const t = parseTxt([Buffer.from('V=1'), Buffer.from('name=a'), Buffer.from('NAME=b'), Buffer.from(''), Buffer.from('=x'), 'flag', 42, Buffer.from('fp=a=b')])
  assert.equal(t.get('v'), '1')
  assert.equal(t.get('name'), 'a')
  assert.equal(t.get('flag'), '')
  assert.equal(t.get('fp'), 'a=b')
  assert.equal(t.size, 4)
  assert.equal(parseTxt(undefined).size, 0)
})

test('malformed, foreign or incomplete announcements give no sighting and do not throw', () => {
  const good = announcement(camp)
  const srv = good.additionals.find((r) => r.type === 'SRV')!
  const txt = good.additionals.find((r) => r.type === 'TXT')!
  const withTxt = (data: string[]) => ({ answers: good.answers, additionals: [srv, decoded({ ...txt, data })] })
  const cases: [string, unknown][] = [
    ['no TXT', { answers: good.answers, additionals: [srv] }],
    ['no SRV', { answers: good.answers, additionals: [decoded(txt)] }],
    ['another TXT version', withTxt(['v=2', 'name=camp.north', `fp=${camp.signFingerprint}`])],
    ['a name that is no node name', withTxt(['v=1', 'name=Camp North!', `fp=${camp.signFingerprint}`])],
    ['a bad fingerprint', withTxt(['v=1', 'name=camp.north', 'fp=SHA256:short'])],
    ['port 0', { answers: good.answers, additionals: [{ ...srv, data: { port: 0, target: 'x.local' } }, decoded(txt)] }],
    ['SRV data not an object', { answers: good.answers, additionals: [{ ...srv, data: 'nonsense' }, decoded(txt)] }],
    ['records that are not objects', { answers: [null, 3, 'x', { name: 5 }], additionals: 'nope' }],
    ['another service', { answers: [{ name: '_http._tcp.local', type: 'PTR', data: 'printer._http._tcp.local' }], additionals: [] }],
    ['nothing', {}],
  ]
  for (const [what, packet] of cases) assert.deepEqual(parseResponse(packet as never, '192.0.2.10').sightings, [], what)
})

test('a box answers questions about its service, instance and host, and ignores others', () => {
  const ptr = answerQuery([{ name: '_OUTPOST._tcp.local', type: 'PTR' }], camp)!
  assert.deepEqual(ptr.answers.map((r) => r.type), ['PTR'])
  assert.deepEqual(ptr.additionals.map((r) => r.type).sort(), ['A', 'SRV', 'TXT'])
  const srv = answerQuery([{ name: instanceName('camp.north'), type: 'SRV' }], camp)!
  assert.deepEqual(srv.answers.map((r) => r.type), ['SRV'])
  const any = answerQuery([{ name: instanceName('camp.north'), type: 'ANY' }], camp)!
  assert.deepEqual(any.answers.map((r) => r.type).sort(), ['SRV', 'TXT'])
  const host = answerQuery([{ name: hostName(camp.signFingerprint), type: 'A' }], camp)!
  assert.deepEqual(host.answers.map((r) => r.data), ['192.0.2.10'])
  const services = answerQuery([{ name: '_services._dns-sd._udp.local', type: 'PTR' }], camp)!
  assert.deepEqual(services.answers.map((r) => r.data), [SERVICE_TYPE])
  assert.equal(answerQuery([{ name: '_http._tcp.local', type: 'PTR' }, { name: 'other._outpost._tcp.local', type: 'SRV' }, { name: 7 }], camp), undefined)
  // What we answer, another box reads as a sighting.
  assert.equal(parseResponse(asReceived(ptr), '192.0.2.10').sightings[0]?.port, 8443)
})

test('a sighting is news once per (name, address) per window, again on a new address, fingerprint or port', () => {
  const m = new SightingMemory(1000, 256)
  const s = { name: 'camp', signFingerprint: camp.signFingerprint, addresses: ['192.0.2.10'], port: 8443 }
  assert.equal(m.isNews(s, 0), true)
  assert.equal(m.isNews(s, 500), false)
  assert.equal(m.isNews({ ...s, addresses: ['192.0.2.10', '192.0.2.11'] }, 600), true)
  assert.equal(m.isNews({ ...s, port: 9443 }, 700), true)
  assert.equal(m.isNews({ ...s, port: 9443, signFingerprint: fp() }, 800), true)
  assert.equal(m.isNews({ ...s, port: 9443, signFingerprint: fp() }, 800), true, 'yet another key is news again')
  assert.equal(m.isNews({ ...s, name: 'town' }, 900), true, 'another name at the same address is news')
  assert.equal(m.isNews({ ...s, name: 'town' }, 2000), true, 'after the window it is told again')
  m.forget('town')
  assert.equal(m.isNews({ ...s, name: 'town' }, 2001), true, 'after a goodbye it is told again at once')
})

test('the memory of sightings stays bounded however many boxes a LAN claims', () => {
  const m = new SightingMemory(60_000, 16)
  for (let i = 0; i < 1000; i++) m.isNews({ name: `n${i}`, signFingerprint: camp.signFingerprint, addresses: ['192.0.2.10'], port: 1 }, 0)
  assert.equal(m.size, 16)
  // The newest are the ones kept.
  assert.equal(m.isNews({ name: 'n999', signFingerprint: camp.signFingerprint, addresses: ['192.0.2.10'], port: 1 }, 1), false)
  assert.equal(m.isNews({ name: 'n0', signFingerprint: camp.signFingerprint, addresses: ['192.0.2.10'], port: 1 }, 1), true)
})
