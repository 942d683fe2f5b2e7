// The gateway's routing rules: what goes to the Internet, what the Internet
// may send in, and whose names a peer may send out under.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inboundAccepts, nextHop, parseStaticMx, senderRoutesTo, staticMxFor, StaticMxError } from '../../../server/routing/route.js'

// town.example is ours; camp.test is peer camp's by its card; lake.test is routed to camp explicitly; `*` goes to hill.
const table: Record<string, { peer: string; via: string }> = { 'camp.test': { peer: 'camp', via: 'card' }, 'lake.test': { peer: 'camp', via: 'route' } }
const resolve = (d: string, o: { useDefault?: boolean }) => table[d] ?? (o.useDefault === false ? undefined : { peer: 'hill', via: 'default' })
const domains = ['town.example']

test('on a gateway, what no peer is named for goes to the Internet, not to the default route', () => {
  const ctx = { domains, gateway: true, resolve }
  assert.deepEqual(nextHop('town.example', ctx), { kind: 'local' })
  assert.deepEqual(nextHop('camp.test', ctx), { kind: 'peer', peer: 'camp' })
  assert.deepEqual(nextHop('LAKE.test', ctx), { kind: 'peer', peer: 'camp' })
  assert.deepEqual(nextHop('elsewhere.test', ctx), { kind: 'internet' })
})

test('on an ordinary node the default route takes the rest, and without one there is no way out', () => {
  assert.deepEqual(nextHop('elsewhere.test', { domains, gateway: false, resolve }), { kind: 'peer', peer: 'hill' })
  const none = nextHop('elsewhere.test', { domains, gateway: false, resolve: () => undefined })
  assert.equal(none.kind, 'none')
})

test('the Internet may deliver for our domains and peer-named ones only, never by the default route', () => {
  const ctx = { domains, inboundDomains: [] as string[], resolve }
  assert.equal(inboundAccepts('town.example', ctx), true)
  assert.equal(inboundAccepts('camp.test', ctx), true)
  assert.equal(inboundAccepts('elsewhere.test', ctx), false, 'not an open relay, although `*` has a peer')
  assert.equal(inboundAccepts('', ctx), false)
  // An explicit list narrows it further.
  const narrow = { ...ctx, inboundDomains: ['camp.test'] }
  assert.equal(inboundAccepts('camp.test', narrow), true)
  assert.equal(inboundAccepts('lake.test', narrow), false)
  assert.equal(inboundAccepts('town.example', narrow), true, 'our own domain always')
  assert.equal(inboundAccepts('elsewhere.test', { ...ctx, inboundDomains: ['elsewhere.test'] }), false, 'listing a domain no peer serves does not open a relay')
})

test("a peer may send to the Internet only as the domains routed to it", () => {
  const ctx = { domains, resolve }
  assert.equal(senderRoutesTo('camp.test', 'camp', ctx), true)
  assert.equal(senderRoutesTo('lake.test', 'camp', ctx), true)
  assert.equal(senderRoutesTo('town.example', 'camp', ctx), false, "not as the gateway's own users")
  assert.equal(senderRoutesTo('camp.test', 'hill', ctx), false, "not as another peer's users")
  assert.equal(senderRoutesTo('elsewhere.test', 'hill', ctx), false, 'not by the default route')
})

test('static MX table: parsed, checked, looked up by domain then *', () => {
  const t = parseStaticMx('elsewhere.test=127.0.0.1:2525, *=[::1]:25')
  assert.deepEqual(staticMxFor(t, 'ELSEWHERE.test'), { host: '127.0.0.1', port: 2525 })
  assert.deepEqual(staticMxFor(t, 'other.test'), { host: '::1', port: 25 })
  assert.equal(staticMxFor(parseStaticMx(''), 'x.test'), undefined)
  assert.throws(() => parseStaticMx('elsewhere.test=127.0.0.1'), StaticMxError)
  assert.throws(() => parseStaticMx('elsewhere.test=host:99999'), /not DOMAIN=HOST:PORT/)
})
