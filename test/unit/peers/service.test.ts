// Peers and routes on a fresh database with the real migrations: who may be
// a peer, and which peer a domain's mail goes to.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sign, verify } from 'node:crypto'
import { openDb, type Db } from '../../../server/db/index.js'
import { defaults } from '../../../server/config/schema.js'
import { nodePaths } from '../../../server/base/paths.js'
import { ensureIdentity, type NodeIdentity } from '../../../server/identity/keys.js'
import { makeCard, type Card } from '../../../server/identity/card.js'
import { PeerService } from '../../../server/peers/service.js'
import { domainOf, groupByHop, nextHop } from '../../../server/routing/route.js'

let dir: string
const ids: Record<string, NodeIdentity> = {}

function cardOf(key: string, name: string, domain: string, host = '10.42.0.9'): Card {
  const c = defaults(domain, { root: true })
  c.node.name = name
  c.node.host = host
  return makeCard({ config: c, identity: ids[key]! })
}

let n = 0
function fresh(): { db: Db; peers: PeerService } {
  const db = openDb(join(dir, `db-${n++}.db`))
  return { db, peers: new PeerService(db, { domains: ['camp.test'], signPublicB64: ids.self!.signPublicB64 }) }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'op-peers-'))
  for (const k of ['self', 'river', 'hill', 'impostor']) ids[k] = await ensureIdentity(nodePaths(join(dir, k)))
})
after(() => rmSync(dir, { recursive: true, force: true }))

test('add, list, get, signerFor, remove', () => {
  const { db, peers } = fresh()
  try {
    const river = cardOf('river', 'river', 'river.test')
    const r = peers.add(river)
    assert.equal(r.status, 'added')
    assert.deepEqual(
      peers.list().map((p) => [p.name, p.domains, p.sign, p.age, p.reach]),
      [['river', ['river.test'], river.sign, river.age, [{ kind: 'https', address: 'https://10.42.0.9:443' }]]],
    )
    assert.equal(peers.get('river')?.sign, river.sign)
    assert.equal(peers.get('nobody'), undefined)
    assert.throws(() => peers.byName('nobody'), { name: 'PeerError', message: /no peer named "nobody"; known peers: river/ })
    // What a bundle opener needs: the key that checks the peer's signature.
    const key = peers.signerFor('river')!
    const msg = Buffer.from('bundle')
    assert.equal(verify(null, msg, key, sign(null, msg, ids.river!.signPrivate)), true)
    assert.equal(verify(null, msg, key, sign(null, msg, ids.impostor!.signPrivate)), false)
    assert.equal(peers.signerFor('nobody'), undefined)
    assert.deepEqual(peers.remove('river'), { routes: [] })
    assert.deepEqual(peers.list(), [])
    assert.throws(() => peers.remove('river'), /no peer named "river"; there are no peers yet/)
  } finally {
    db.$client.close()
  }
})

test('refusals: our own card, our own domain, a key or a domain another peer has', () => {
  const { db, peers } = fresh()
  try {
    assert.throws(() => peers.add(cardOf('self', 'camp', 'camp.test')), { name: 'PeerError', message: /this node's own card/ })
    assert.throws(() => peers.add(cardOf('river', 'river', 'camp.test')), /claims camp\.test, which this node serves itself/)
    peers.add(cardOf('river', 'river', 'river.test'))
    assert.throws(() => peers.add(cardOf('river', 'delta', 'delta.test')), /signing key of peer "river".*outpost peer remove river/)
    assert.throws(() => peers.add(cardOf('hill', 'hill', 'river.test')), /claims river\.test, which peer "river" already serves/)
    assert.deepEqual(peers.list().map((p) => p.name), ['river'])
  } finally {
    db.$client.close()
  }
})

test('re-adding: the same card is a no-op, a new reach or age key from the same signer updates, a new signing key needs replace', () => {
  const { db, peers } = fresh()
  try {
    const river = cardOf('river', 'river', 'river.test')
    peers.add(river)
    peers.addRoute('far.test', 'river')
    assert.equal(peers.add(river).status, 'unchanged')
    const moved = cardOf('river', 'river', 'river.test', '10.42.0.77')
    assert.equal(peers.add(moved).status, 'updated')
    assert.equal(peers.get('river')!.reach[0]!.address, 'https://10.42.0.77:443')
    assert.equal(peers.add({ ...moved, age: ids.hill!.ageRecipient }).status, 'updated')

    const reinstalled = cardOf('impostor', 'river', 'river.test')
    assert.throws(() => peers.add(reinstalled), { name: 'PeerError', message: /already known with another signing key \(known SHA256:.*, this card SHA256:.*\).*--replace/ })
    assert.equal(peers.get('river')!.sign, river.sign)
    assert.equal(peers.add(reinstalled, { replace: true }).status, 'replaced')
    assert.equal(peers.get('river')!.sign, reinstalled.sign)
    // The peer kept its name, so its routes still point at it.
    assert.deepEqual(peers.resolveDomain('far.test'), { peer: 'river', via: 'route' })
  } finally {
    db.$client.close()
  }
})

test('route precedence: explicit route, then card domain, then the default; our own domain never', () => {
  const { db, peers } = fresh()
  try {
    peers.add(cardOf('river', 'river', 'river.test'))
    peers.add(cardOf('hill', 'hill', 'hill.test'))
    assert.deepEqual(peers.resolveDomain('river.test'), { peer: 'river', via: 'card' })
    assert.deepEqual(peers.resolveDomain('River.Test'), { peer: 'river', via: 'card' })
    assert.equal(peers.resolveDomain('elsewhere.org'), undefined)

    assert.deepEqual(peers.addRoute('*', 'hill'), { domain: '*' })
    assert.deepEqual(peers.resolveDomain('elsewhere.org'), { peer: 'hill', via: 'default' })
    assert.deepEqual(peers.resolveDomain('river.test'), { peer: 'river', via: 'card' })
    assert.equal(peers.resolveDomain('camp.test'), undefined)

    assert.deepEqual(peers.addRoute('River.test', 'hill'), { domain: 'river.test' })
    assert.deepEqual(peers.resolveDomain('river.test'), { peer: 'hill', via: 'route' })
    assert.deepEqual(peers.addRoute('river.test', 'river'), { domain: 'river.test', previous: 'hill' })
    assert.deepEqual(peers.resolveDomain('river.test'), { peer: 'river', via: 'route' })
    peers.addRoute('river.test', 'hill')

    assert.deepEqual(
      peers.listRoutes().map((r) => [r.domain, r.peer, r.implied, r.active]),
      [
        ['hill.test', 'hill', true, true],
        ['river.test', 'hill', false, true],
        ['river.test', 'river', true, false],
        ['*', 'hill', false, true],
      ],
    )

    assert.throws(() => peers.addRoute('camp.test', 'river'), { name: 'PeerError', message: /this node's own domain/ })
    assert.throws(() => peers.addRoute('not a domain', 'river'), /not a domain name/)
    assert.throws(() => peers.addRoute('x.test', 'nobody'), /no peer named "nobody"; known peers: hill, river/)
    assert.throws(() => peers.removeRoute('hill.test'), /no explicit route; it goes to peer "hill" because that peer's card claims it/)
    assert.throws(() => peers.removeRoute('x.test'), /there is no route for x\.test/)

    assert.deepEqual(peers.removeRoute('river.test'), { domain: 'river.test', peer: 'hill' })
    assert.deepEqual(peers.resolveDomain('river.test'), { peer: 'river', via: 'card' })
    // Removing a peer takes its routes along: the default route is gone.
    peers.addRoute('far.test', 'hill')
    assert.deepEqual(peers.remove('hill'), { routes: ['*', 'far.test'] })
    assert.equal(peers.resolveDomain('elsewhere.org'), undefined)
    assert.equal(peers.resolveDomain('far.test'), undefined)
    assert.deepEqual(peers.listRoutes().map((r) => r.domain), ['river.test'])
  } finally {
    db.$client.close()
  }
})

test('the router sends foreign domains to the peers named for them; local mail is unaffected', () => {
  const { db, peers } = fresh()
  try {
    peers.add(cardOf('river', 'river', 'river.test'))
    const ctx = { domains: ['camp.test'], gateway: false, resolve: (d: string, o: { useDefault?: boolean }) => peers.resolveDomain(d, o) }
    const hop = (address: string) => nextHop(domainOf(address), ctx)
    assert.deepEqual(hop('Bob@River.test'), { kind: 'peer', peer: 'river' })
    assert.deepEqual(hop('alice@camp.test'), { kind: 'local' })
    assert.deepEqual(hop('nobody@camp.test'), { kind: 'local' })
    assert.deepEqual(hop('x@example.org'), { kind: 'none', reason: 'relaying to example.org is not possible from this node' })
    // A default route never takes our own domains away.
    peers.addRoute('*', 'river')
    assert.deepEqual(hop('x@example.org'), { kind: 'peer', peer: 'river' })
    assert.deepEqual(hop('nobody@camp.test'), { kind: 'local' })
    // Grouped as Haraka's delivery, the import and the uplink group them: by hop, in order.
    const g = groupByHop(['a@river.test', 'alice@camp.test', 'b@river.test', 'x@example.org'], ctx)
    assert.deepEqual(g.local, ['alice@camp.test'])
    assert.deepEqual([...g.byPeer], [['river', ['a@river.test', 'b@river.test', 'x@example.org']]])
    assert.deepEqual(g.none, [])
  } finally {
    db.$client.close()
  }
})
