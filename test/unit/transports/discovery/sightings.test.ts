import { test } from 'node:test'
import assert from 'node:assert/strict'
import { freshSighting, rememberSighting, SIGHTING_FRESH_MS } from '../../../../server/transports/discovery/sightings.js'
import { peerBaseUrl, peerTargets } from '../../../../server/transports/http.js'
import type { Peer } from '../../../../server/peers/service.js'

const PIN = `SHA256:${'A'.repeat(43)}`
const peer: Peer = { name: 'town', sign: 'x', age: 'age1x', domains: ['town.test'], reach: [{ kind: 'https', address: 'https://192.0.2.10:8443', tls: PIN }], addedAt: 0 }

// Each test file runs in its own process, so no sighting is remembered at the start.
test('the HTTP transport uses a fresh LAN sighting over the card, and an explicit url over both', () => {
  assert.equal(peerBaseUrl(peer, { insecure_tls: 'yes' } as never).host, '192.0.2.10:8443')
  const now = Date.now()
  rememberSighting('town', { address: '192.0.2.77', port: 9443, at: now })
  assert.equal(peerBaseUrl(peer, { insecure_tls: 'yes' } as never).host, '192.0.2.77:9443')
  rememberSighting('town', { address: '2001:db8::7', port: 9443, at: now })
  assert.equal(peerBaseUrl(peer, { insecure_tls: 'yes' } as never).host, '[2001:db8::7]:9443')
  assert.equal(peerBaseUrl(peer, { url: 'https://192.0.2.5:1', insecure_tls: 'yes' } as never).host, '192.0.2.5:1')
  assert.equal(freshSighting('town', now + SIGHTING_FRESH_MS + 1), undefined, 'an old sighting is not used')
})

test("a sighting is used only for a peer whose card pins its TLS key, and every target carries the pin", () => {
  rememberSighting('town', { address: '192.0.2.77', port: 9443, at: Date.now() })
  const targets = peerTargets(peer, { insecure_tls: 'yes' } as never)
  assert.deepEqual(targets.map((t) => [t.from, t.base.host, t.pin]), [['mdns', '192.0.2.77:9443', PIN], ['card', '192.0.2.10:8443', PIN]])
  // An old card without a pin: anyone can announce its name and fingerprint, so the LAN is not believed.
  const old: Peer = { ...peer, reach: [{ kind: 'https', address: 'https://192.0.2.10:8443' }] }
  assert.deepEqual(peerTargets(old, { insecure_tls: 'yes' } as never).map((t) => [t.from, t.base.host, t.pin]), [['card', '192.0.2.10:8443', undefined]])
  // A CA vouches instead of the pin.
  assert.equal(peerTargets(peer, { insecure_tls: 'no' } as never)[0]!.pin, undefined)
})

test('every address on the card is a target, https first, in the card order', () => {
  const two: Peer = { ...peer, name: 'hill', reach: [{ kind: 'http', address: 'http://192.0.2.30:80' }, { kind: 'https', address: 'https://192.0.2.10:8443', tls: PIN }, { kind: 'https', address: 'https://[201:6c3a::7]:8443', tls: PIN }] }
  assert.deepEqual(peerTargets(two, { insecure_tls: 'yes' } as never).map((t) => [t.from, t.base.host]), [['card', '192.0.2.10:8443'], ['card', '[201:6c3a::7]:8443'], ['card', '192.0.2.30']])
})
