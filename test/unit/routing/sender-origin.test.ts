import { test } from 'node:test'
import assert from 'node:assert/strict'
import { foreignSender, fromDomains, mayComeFrom, type OriginContext } from '../../../server/routing/sender-origin.js'

const routes: Record<string, string> = { 'town.test': 'town', 'river.test': 'river', 'hill.test': 'town', '*': 'town' }
const ctx = (gateway = false): OriginContext => ({
  domains: ['camp.test'],
  gateway,
  resolve: (d, o) => {
    if (d === 'camp.test') return undefined
    if (routes[d]) return { peer: routes[d]!, via: 'route' }
    return o.useDefault === false ? undefined : { peer: routes['*']!, via: 'default' }
  },
})

test('a peer may send from its own domains, those routed through it and (as the default route) the rest', () => {
  assert.ok(mayComeFrom('town.test', 'town', ctx()))
  assert.ok(mayComeFrom('HILL.test', 'town', ctx()))
  assert.ok(mayComeFrom('elsewhere.example', 'town', ctx()))
  assert.ok(!mayComeFrom('camp.test', 'town', ctx()), 'never as this node')
  assert.ok(!mayComeFrom('river.test', 'town', ctx()), 'never as another peer')
  assert.ok(!mayComeFrom('elsewhere.example', 'town', ctx(true)), 'a gateway has no default peer: the rest is the Internet')
  assert.ok(!mayComeFrom('', 'town', ctx()))
})

test('From: addresses are all checked, phrases and comments ignored, a spaced field name included', () => {
  assert.deepEqual(fromDomains('Subject: x\r\nFrom: "a@camp.test, x" <b@town.test> (c@camp.test)\r\n'), ['town.test'])
  assert.deepEqual(fromDomains('From: a@town.test,\r\n b@Camp.test\r\nFROM : c@river.test'), ['town.test', 'camp.test', 'river.test'])
  const m = (sender: string, from: string) => ({ sender, data: Buffer.from(`From: ${from}\r\n\r\nhi\r\n`) })
  assert.equal(foreignSender(m('bob@town.test', 'bob@town.test'), 'town', ctx()), null)
  assert.equal(foreignSender(m('', 'MAILER-DAEMON@town.test'), 'town', ctx()), null, 'a bounce from the origin itself')
  assert.match(foreignSender(m('', 'MAILER-DAEMON@camp.test'), 'town', ctx())!, /From: is at camp\.test: camp\.test is this node's own domain/)
  assert.match(foreignSender(m('bob@town.test', 'undisclosed'), 'town', ctx())!, /no domain/)
})
