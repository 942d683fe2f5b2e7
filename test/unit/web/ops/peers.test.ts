// Peers and routes from the web admin: the node's own card as text and QR,
// adding a peer from its card, routes, and the refusals a person can act on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode } from '../../../helpers/ops-admin.js'
import { parseCard, signFingerprint } from '../../../../server/identity/card.js'

test('self card, add a peer from its card, routes, remove; bad cards and routes are refused with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-webpeers-'))
  const camp = await opsNode(join(dir, 'camp'), 'camp.test')
  const town = await opsNode(join(dir, 'town'), 'town.test')
  const other = await opsNode(join(dir, 'other'), 'other.test')
  try {
    const self = (await town.get('/api/self')).json()
    assert.equal(self.name, 'town')
    assert.equal(self.domain, 'town.test')
    assert.match(self.card, /^outpost-card:/)
    assert.deepEqual(parseCard(self.card).domains, ['town.test'])
    assert.match(self.qrSvg, /^<svg[^>]*viewBox/)

    let r = await camp.send('POST', '/api/peers', { card: `  ${self.card}\n` })
    assert.equal(r.statusCode, 200, r.body)
    assert.equal(r.json().status, 'added')
    assert.deepEqual(r.json().peer, { name: 'town', domains: ['town.test'], reach: parseCard(self.card).reach, fingerprint: signFingerprint(parseCard(self.card).sign), addedAt: r.json().peer.addedAt })
    assert.equal((await camp.send('POST', '/api/peers', { card: self.card })).json().status, 'unchanged')
    assert.deepEqual((await camp.get('/api/peers')).json().map((p: { name: string }) => p.name), ['town'])

    // Refusals: our own card, a damaged card, a file name (never read from the box), no card at all.
    const bad = async (payload: unknown, re: RegExp) => {
      const res = await camp.send('POST', '/api/peers', payload)
      assert.equal(res.statusCode, 400, res.body)
      assert.match(res.json().error, re)
    }
    await bad({ card: (await camp.get('/api/self')).json().card }, /this node's own card/)
    await bad({ card: self.card.slice(0, -6) + 'AAAAAA' }, /signature|card/i)
    await bad({ card: '/etc/passwd' }, /card/i)
    await bad({}, /body.card is required/)

    // Routes: the card's domain, a manual one, the default; refusals name the problem.
    assert.deepEqual((await camp.get('/api/routes')).json(), [{ domain: 'town.test', peer: 'town', source: 'card' }])
    r = await camp.send('POST', '/api/routes', { domain: 'far.test', peer: 'town' })
    assert.deepEqual(r.json(), { domain: 'far.test' })
    r = await camp.send('POST', '/api/routes', { domain: '*', peer: 'town' })
    assert.equal(r.statusCode, 200)
    r = await camp.send('POST', '/api/routes', { domain: 'camp.test', peer: 'town' })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /this node's own domain/)
    r = await camp.send('POST', '/api/routes', { domain: 'x.test', peer: 'nobody' })
    assert.equal(r.statusCode, 400)
    assert.match(r.json().error, /no peer named "nobody"/)
    r = await camp.send('POST', '/api/routes', { domain: 'not a domain', peer: 'town' })
    assert.match(r.json().error, /not a domain name/)
    assert.deepEqual((await camp.get('/api/routes')).json(), [
      { domain: 'far.test', peer: 'town', source: 'manual' },
      { domain: 'town.test', peer: 'town', source: 'card' },
      { domain: '*', peer: 'town', source: 'manual' },
    ])
    // Another peer takes over far.test: the answer says who had it.
    assert.equal((await camp.send('POST', '/api/peers', { card: (await other.get('/api/self')).json().card })).json().status, 'added')
    assert.deepEqual((await camp.send('POST', '/api/routes', { domain: 'far.test', peer: 'other' })).json(), { domain: 'far.test', previous: 'town' })
    assert.equal((await camp.send('DELETE', '/api/routes/far.test')).statusCode, 204)
    r = await camp.send('DELETE', '/api/routes/town.test')
    assert.equal(r.statusCode, 404)
    assert.match(r.json().error, /peer "town" because that peer's card claims it/)

    r = await camp.send('DELETE', '/api/peers/town')
    assert.deepEqual(r.json(), { routes: ['*'] })
    assert.equal((await camp.send('DELETE', '/api/peers/town')).statusCode, 404)
    assert.deepEqual((await camp.get('/api/peers')).json().map((p: { name: string }) => p.name), ['other'])

    // A change without the CSRF token is refused.
    r = await camp.app.inject({ method: 'POST', url: '/api/peers', headers: { cookie: camp.session.cookie }, payload: { card: self.card } })
    assert.equal(r.statusCode, 403)
  } finally {
    await Promise.all([camp.close(), town.close(), other.close()])
    rmSync(dir, { recursive: true, force: true })
  }
})
