import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { AccountService } from '../../../server/accounts/service.js'
import { hashPassword, verifyPassword, randomPassword } from '../../../server/accounts/password.js'
import { dcloginUri } from '../../../server/accounts/dclogin.js'
import { defaults } from '../../../server/config/schema.js'

test('passwords are Argon2id with OWASP parameters, in the form Dovecot reads', async () => {
  const h = await hashPassword('correct horse battery')
  assert.match(h, /^\{ARGON2ID\}\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  assert.equal(await verifyPassword('correct horse battery', h), true)
  assert.equal(await verifyPassword('wrong horse battery', h), false)
  assert.equal(await verifyPassword('x', 'plain'), false)
})

test('random passwords are long and differ', () => {
  const a = randomPassword()
  assert.equal(a.length, 24)
  assert.notEqual(a, randomPassword())
  assert.match(a, /^[a-zA-Z2-9]+$/)
})

test('account service: add, list, verify, passwd, remove, refusals', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-acc-'))
  try {
    const db = openDb(join(dir, 'o.db'))
    const s = new AccountService(db, ['camp.test'])
    const { password } = await s.add('Alice@Camp.test')
    assert.deepEqual(s.list().map((a) => a.address), ['alice@camp.test'])
    assert.equal(await s.verify('alice@camp.test', password), true)
    assert.equal(await s.verify('alice@camp.test', password + 'x'), false)
    assert.equal(await s.verify('nobody@camp.test', password), false)
    await assert.rejects(s.add('alice@camp.test'), /already exists/)
    await assert.rejects(s.add('bob@elsewhere.test'), /serves camp\.test/)
    await assert.rejects(s.add('b ob@camp.test'), /letters, digits/)
    await assert.rejects(s.add('bob@camp.test', 'short'), /at least 9/)
    const np = await s.setPassword('alice@camp.test', 'a new long password')
    assert.equal(np.password, 'a new long password')
    assert.equal(await s.verify('alice@camp.test', password), false)
    assert.equal(await s.verify('alice@camp.test', 'a new long password'), true)
    s.remove('alice@camp.test')
    assert.deepEqual(s.list(), [])
    assert.throws(() => s.remove('alice@camp.test'), /no such account/)
    db.$client.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the database runs in WAL with synchronous=FULL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-db-'))
  try {
    const db = openDb(join(dir, 'o.db'))
    assert.equal(db.$client.pragma('journal_mode', { simple: true }), 'wal')
    assert.equal(db.$client.pragma('synchronous', { simple: true }), 2)
    db.$client.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('dclogin URI carries the server, ports, STARTTLS and ic=3 for the self-signed box', () => {
  const c = defaults('camp.test', { root: false })
  c.node.host = '10.42.0.1'
  const uri = dcloginUri(c, 'alice@camp.test', 'pa ss+word&x')
  assert.equal(
    uri,
    'dclogin:alice@camp.test?p=pa%20ss%2Bword%26x&v=1&ih=10.42.0.1&ip=1143&is=starttls&sh=10.42.0.1&sp=1587&ss=starttls&ic=3',
  )
})
