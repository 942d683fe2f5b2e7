// The email-account uplink's header work: what the provider may send, and
// how a reply finds its way back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { addressOfTag, groupRecipients, plusTag, rewriteForAccount } from '../../../server/gateway/account-uplink.js'

const msg = Buffer.from(['From: Alice <alice@camp.test>', 'Sender: alice@camp.test', 'DKIM-Signature: v=1; d=camp.test;', '  b=xyz', 'To: <friend@elsewhere.test>', 'Subject: hi', '', 'body', '.line', ''].join('\r\n'))

test('the author becomes the account; the original author and a reply address are kept; the body is untouched', () => {
  const out = rewriteForAccount(msg, 'group@provider.example', 'alice@camp.test', ['camp.test']).toString('latin1')
  const [head, body] = out.split('\r\n\r\n') as [string, string]
  assert.match(head, /^From: "alice@camp\.test" <group@provider\.example>$/m)
  assert.match(head, /^Reply-To: <group\+alice@provider\.example>$/m)
  assert.match(head, /^X-Original-From: <alice@camp\.test>$/m)
  assert.match(head, /^To: <friend@elsewhere\.test>$/m)
  assert.doesNotMatch(head, /Sender:|DKIM-Signature|b=xyz/)
  assert.equal(body, 'body\r\n.line\r\n')
})

test("plus-tags: a local user by name, a neighbour's user with its domain", () => {
  assert.equal(plusTag('Alice@Camp.test', ['camp.test']), 'alice')
  assert.equal(plusTag('bob@hill.test', ['camp.test']), 'bob=hill.test')
  assert.equal(addressOfTag('alice', 'camp.test'), 'alice@camp.test')
  assert.equal(addressOfTag('bob=hill.test', 'camp.test'), 'bob@hill.test')
  assert.equal(addressOfTag('../x', 'camp.test'), undefined)
})

test('recipients come from the plus-addresses of the account in To, Cc and Delivered-To only', () => {
  const m = Buffer.from(['To: "G" <group+alice@provider.example>, other@x.test', 'Cc: GROUP+bob=hill.test@Provider.example', 'Subject: group+mallory@provider.example', 'Delivered-To: group@provider.example', '', 'group+eve@provider.example', ''].join('\r\n'))
  assert.deepEqual(groupRecipients(m, 'group@provider.example', 'camp.test').sort(), ['alice@camp.test', 'bob@hill.test'])
})
