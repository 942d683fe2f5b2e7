import { test } from 'node:test'
import assert from 'node:assert/strict'
import { freshSighting, forgetSightings, rememberSighting, SIGHTING_FRESH_MS } from '../../../server/transports/sightings.js'
import { peerBaseUrl } from '../../../server/transports/http.js'
import type { Peer } from '../../../server/peers/service.js'

const peer: Peer = { name: 'town', sign: 'x', age: 'age1x', domains: ['town.test'], reach: [{ kind: 'https', address: 'https://192.0.2.10:8443' }], addedAt: 0 }

test('the HTTP transport uses a fresh LAN sighting over the card, and an explicit url over both', () => {
  forgetSightings()
  assert.equal(peerBaseUrl(peer, { insecure_tls: 'yes' } as never).host, '192.0.2.10:8443')
  const now = Date.now()
  rememberSighting('town', { address: '192.0.2.77', port: 9443, at: now })
  assert.equal(peerBaseUrl(peer, { insecure_tls: 'yes' } as never).host, '192.0.2.77:9443')
  rememberSighting('town', { address: '2001:db8::7', port: 9443, at: now })
  assert.equal(peerBaseUrl(peer, { insecure_tls: 'yes' } as never).host, '[2001:db8::7]:9443')
  assert.equal(peerBaseUrl(peer, { url: 'https://192.0.2.5:1', insecure_tls: 'yes' } as never).host, '192.0.2.5:1')
  assert.equal(freshSighting('town', now + SIGHTING_FRESH_MS + 1), undefined, 'an old sighting is not used')
  forgetSightings()
})
