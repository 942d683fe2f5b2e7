import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb, upToDate } from '../../../server/db/index.js'
import { appRoot } from '../../../server/base/app-root.js'
import Database from 'better-sqlite3'
import { ACCOUNT_SQL, AccountCursorError, AccountService } from '../../../server/accounts/service.js'
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

test('accounts come a page at a time by address, a search narrows them, and a page reads only its rows of the address index', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-acc-'))
  try {
    const db = openDb(join(dir, 'o.db'))
    const insert = db.$client.prepare('INSERT INTO accounts (address, password_hash, created_at) VALUES (?, ?, ?)')
    // 500 accounts, as the scale target: the hash is not what is tested here.
    db.$client.transaction(() => {
      for (let i = 0; i < 500; i++) insert.run(`user${String(i).padStart(3, '0')}@camp.test`, 'x', i)
    })()
    const svc = new AccountService(db, ['camp.test'])
    const seen: string[] = []
    let page = svc.page({ limit: 120 })
    for (;;) {
      assert.equal(page.total, 500)
      assert.ok(page.items.length <= 120)
      seen.push(...page.items.map((a) => a.address))
      if (!page.next) break
      page = svc.page({ limit: 120, after: page.next })
    }
    assert.equal(seen.length, 500, 'every account once')
    assert.equal(new Set(seen).size, 500)
    assert.deepEqual(seen, [...seen].sort(), 'in address order')
    assert.equal(svc.page().items.length, 50, 'a page is 50 unless asked')
    assert.equal(svc.page({ limit: 10_000 }).items.length, 200, 'and never more than 200')

    // The admin looks for one person by a part of the address, in any case.
    const found = svc.page({ search: ' USER42 ' })
    assert.deepEqual(
      found.items.map((a) => a.address),
      ['user420@camp.test', 'user421@camp.test', 'user422@camp.test', 'user423@camp.test', 'user424@camp.test', 'user425@camp.test', 'user426@camp.test', 'user427@camp.test', 'user428@camp.test', 'user429@camp.test'],
    )
    assert.equal(found.total, 10)
    assert.equal(found.next, null)
    const first = svc.page({ search: 'user42', limit: 4 })
    assert.equal(first.items.length, 4)
    assert.deepEqual(svc.page({ search: 'user42', limit: 4, after: first.next! }).items.map((a) => a.address), ['user424@camp.test', 'user425@camp.test', 'user426@camp.test', 'user427@camp.test'])
    assert.deepEqual(svc.page({ search: 'nobody' }), { items: [], total: 0, next: null })
    // An account added after the cursor's place shows on a later page, one removed is simply gone.
    const p1 = svc.page({ limit: 2 })
    insert.run('user001a@camp.test', 'x', 0)
    svc.remove('user002@camp.test')
    assert.deepEqual(svc.page({ limit: 2, after: p1.next! }).items.map((a) => a.address), ['user001a@camp.test', 'user003@camp.test'])
    assert.throws(() => svc.page({ after: 'not-a-cursor' }), AccountCursorError)

    // Both queries walk the address index: no sort in memory, no scan of the table's rows.
    for (const [name, sql, params] of [
      ['page', ACCOUNT_SQL.page, ['', '', 51]],
      ['count', ACCOUNT_SQL.count, ['']],
    ] as const) {
      const plan = (db.$client.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ')
      assert.match(plan, /(SEARCH|SCAN) accounts USING (COVERING )?INDEX accounts_address_unique/, `${name}: ${plan}`)
      assert.doesNotMatch(plan, /TEMP B-TREE/, `${name} sorts nothing in memory: ${plan}`)
    }
    db.$client.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a database that has every migration is opened without a migration pass; one that lacks the newest gets it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-db-'))
  const folder = join(appRoot(), 'server/db/migrations')
  try {
    const fresh = new Database(join(dir, 'o.db'))
    assert.equal(upToDate(fresh, folder), false, 'an empty database is not up to date')
    fresh.close()
    let db = openDb(join(dir, 'o.db'))
    assert.equal(upToDate(db.$client, folder), true)
    // As if the newest migration had come with an upgrade: its record and its table are not there yet.
    const newest = db.$client.prepare('SELECT max(created_at) AS at FROM __drizzle_migrations').get() as { at: number }
    db.$client.prepare('DELETE FROM __drizzle_migrations WHERE created_at = ?').run(newest.at)
    assert.equal(upToDate(db.$client, folder), false)
    const before = (db.$client.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n
    db.$client.close()
    // The newest migration is run again by the next open (its table or
    // column is still there): either it is safe to replay, or the open fails
    // loudly on what it finds. Either way the open did not skip it.
    try {
      db = openDb(join(dir, 'o.db'))
      assert.equal((db.$client.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n, before + 1, 'the open applied it')
      assert.equal(upToDate(db.$client, folder), true)
      db.$client.close()
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause
      assert.match(`${String(err)} ${String(cause ?? '')}`, /already exists|duplicate column/, 'the open ran the migration again')
    }
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
