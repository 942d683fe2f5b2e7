// Classic peers (an Exim/Postfix node over NNCP) on a fresh database with
// the real migrations: how one is added, what it may claim, and that no
// bundle can ever verify as coming from it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { defaults } from '../../../server/config/schema.js'
import { nodePaths } from '../../../server/base/paths.js'
import { ensureIdentity, type NodeIdentity } from '../../../server/identity/keys.js'
import { makeCard } from '../../../server/identity/card.js'
import { PeerService } from '../../../server/peers/service.js'
import { foreignSender } from '../../../server/routing/sender-origin.js'

const OLDTOWN = 'A'.repeat(52)
const OTHER = 'B'.repeat(52)
let dir: string
let self: NodeIdentity
let river: NodeIdentity
let n = 0

function fresh(): PeerService {
  return new PeerService(openDb(join(dir, `db-${n++}.db`)), { domains: ['camp.test'], signPublicB64: self.signPublicB64 })
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'op-classic-'))
  self = await ensureIdentity(nodePaths(join(dir, 'self')))
  river = await ensureIdentity(nodePaths(join(dir, 'river')))
})
after(() => rmSync(dir, { recursive: true, force: true }))

test('a classic peer is found by its NNCP node, routed its domains, and signs nothing', () => {
  const peers = fresh()
  const r = peers.addClassic('oldtown', { nncpNode: OLDTOWN, domains: ['OldTown.test', 'oldtown.test', 'lists.oldtown.test'] })
  assert.equal(r.status, 'added')
  assert.deepEqual(r.peer.domains, ['lists.oldtown.test', 'oldtown.test'])
  assert.deepEqual(r.peer.classic, { nncpNode: OLDTOWN })
  assert.equal(peers.classicByNncpNode(OLDTOWN)?.name, 'oldtown')
  assert.equal(peers.classicByNncpNode(OTHER), undefined)
  assert.equal(peers.resolveDomain('oldtown.test')?.peer, 'oldtown')
  assert.equal(peers.signerFor('oldtown'), undefined, 'a bundle claiming to be from a classic peer must find no key')
  assert.equal(peers.addClassic('oldtown', { nncpNode: OLDTOWN, domains: ['oldtown.test', 'lists.oldtown.test'] }).status, 'unchanged')
  assert.equal(peers.addClassic('oldtown', { nncpNode: OLDTOWN, domains: ['oldtown.test'] }).status, 'updated')
})

test('the sender rule holds a classic peer to its own domains, as it holds a bundle\'s origin', () => {
  const peers = fresh()
  peers.addClassic('oldtown', { nncpNode: OLDTOWN, domains: ['oldtown.test'] })
  const ctx = { domains: ['camp.test'], gateway: false, resolve: (d: string, o: { useDefault?: boolean }) => peers.resolveDomain(d, o) }
  const mail = (sender: string, from: string) => ({ sender, data: Buffer.from(`From: ${from}\r\n\r\nhi\r\n`) })
  assert.equal(foreignSender(mail('bob@oldtown.test', 'bob@oldtown.test'), 'oldtown', ctx), null)
  assert.match(foreignSender(mail('mallory@elsewhere.test', 'bob@oldtown.test'), 'oldtown', ctx)!, /oldtown may not send as <mallory@elsewhere\.test>/)
  assert.match(foreignSender(mail('bob@oldtown.test', 'alice@camp.test'), 'oldtown', ctx)!, /camp\.test is this node's own domain/)
})

test('what a classic peer may not be: no domain, our domain, another peer\'s domain or NNCP node, an Outpost peer\'s name, a bad node id', () => {
  const peers = fresh()
  const c = defaults('river.test', { root: true })
  c.node.name = 'river'
  peers.add(makeCard({ config: c, identity: river }))
  peers.addClassic('oldtown', { nncpNode: OLDTOWN, domains: ['oldtown.test'] })
  assert.throws(() => peers.addClassic('newtown', { nncpNode: OTHER, domains: [] }), /at least one --domain/)
  assert.throws(() => peers.addClassic('newtown', { nncpNode: OTHER, domains: ['camp.test'] }), /this node's own domain/)
  assert.throws(() => peers.addClassic('newtown', { nncpNode: OTHER, domains: ['river.test'] }), /already goes to peer "river"/)
  assert.throws(() => peers.addClassic('newtown', { nncpNode: OLDTOWN, domains: ['newtown.test'] }), /already classic peer "oldtown"/)
  assert.throws(() => peers.addClassic('river', { nncpNode: OTHER, domains: ['newtown.test'] }), /is an Outpost peer/)
  assert.throws(() => peers.addClassic('newtown', { nncpNode: 'oldtown', domains: ['newtown.test'] }), /not an NNCP node id/)
  assert.throws(() => peers.addClassic('New Town', { nncpNode: OTHER, domains: ['newtown.test'] }), /not a peer name/)
  // A peer reached only by Filespooler has no NNCP node.
  assert.deepEqual(peers.addClassic('farm', { domains: ['farm.test'] }).peer.classic, { nncpNode: undefined })
})
