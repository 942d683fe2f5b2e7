// Import's bulk store against the real Dovecot: a mailbox's many messages
// go in one `doveadm import`, stored as LMTP stores them, in order, each
// once; a full quota half-way leaves what fitted and LMTP refuses the rest.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { ImapFlow } from 'imapflow'
import { startNode } from '../../helpers/node.js'
import { waitFor } from '../../helpers/wait.js'
import { maildirFiles, messageIdCounts } from '../../helpers/mail.js'
import { openDb } from '../../../server/db/index.js'
import { nodePaths } from '../../../server/base/paths.js'
import { BatchDelivery, BULK_MIN, type BatchMessage } from '../../../server/delivery/batch.js'
import { DoveadmBulkStore, type BulkMessage, type BulkStore } from '../../../server/delivery/bulk-store.js'
import { DELIVERY_HEADER } from '../../../server/delivery/deliver.js'
import { exec, type Exec } from '../../../server/base/exec.js'

const message = (n: number, to: string, size = 600): BatchMessage => ({
  key: `bulk-${n}`.padEnd(64, '.'),
  sender: 'alice@camp.test',
  recipients: [to],
  message: Buffer.from(`Message-ID: <bulk-${n}@camp.test>\r\nFrom: alice@camp.test\r\nTo: ${to}\r\nSubject: n${n}\r\n\r\n${'x'.repeat(size)}\r\n`),
})

/** The real store, counting what it was asked to store and what it stored. */
class Counted implements BulkStore {
  asked: string[] = []
  stored: string[] = []
  constructor(private readonly inner: BulkStore) {}
  async store(recipient: string, messages: readonly BulkMessage[]) {
    this.asked.push(`${recipient} ${messages.length}`)
    await this.inner.store(recipient, messages)
    this.stored.push(`${recipient} ${messages.length}`)
  }
}

/** The header block of a stored message, with Dovecot's Received line (it names a time and an id) left out. */
const headerOf = (file: string) =>
  readFileSync(file, 'latin1')
    .split('\n\n', 1)[0]!
    .replace(/^Received: [^\n]*(\n[ \t][^\n]*)*\n/m, '')

/** A running town with bob, and import's batch delivery on it with the real bulk store (doveadm run through `run`). */
async function townWithBulk(t: { after(fn: () => unknown): void }, opts: { run?: Exec; bobQuotaMb?: number } = {}) {
  const node = await startNode({ domain: 'town.test' })
  t.after(() => node.stop())
  const bob = await node.addAccount('bob')
  const paths = nodePaths(node.data)
  if (opts.bobQuotaMb !== undefined) {
    const raw = new Database(join(node.data, 'outpost.db'))
    raw.prepare('UPDATE accounts SET quota_mb = ? WHERE address = ?').run(opts.bobQuotaMb, bob.address)
    raw.close()
  }
  const db = openDb(join(node.data, 'outpost.db'))
  t.after(() => db.$client.close())
  const bulk = new Counted(new DoveadmBulkStore({ dovecotConf: paths.dovecotConf, mailDir: paths.mail, ...(opts.run ? { exec: opts.run } : {}) }))
  const batch = new BatchDelivery({ db, lmtp: { socketPath: paths.lmtpSocket, lhloName: 'town.test', timeoutMs: 30_000 }, mailDir: paths.mail, bulk })
  t.after(() => batch.close())
  return { node, bob, paths, db, bulk, batch }
}

test('doveadm import stores a mailbox\'s many messages in order, as LMTP would, each once', { timeout: 180_000 }, async (t) => {
  const { node, bob, paths, bulk, batch } = await townWithBulk(t)
  const carol = await node.addAccount('carol')

  // bob's phone idles in his INBOX, as Delta Chat does.
  const imap = new ImapFlow({
    host: '127.0.0.1', port: node.ports.imap, secure: false, doSTARTTLS: true,
    auth: { user: bob.address, pass: bob.password }, tls: { rejectUnauthorized: false }, logger: false, autoIdleDelay: 50,
  })
  await imap.connect()
  t.after(() => imap.logout().catch(() => undefined))
  await imap.mailboxOpen('INBOX')
  let told = 0
  imap.on('exists', (e: { count: number }) => void (told = e.count))

  // bob gets BULK_MIN + 6 (one bulk store); carol one (LMTP), with the same body as bob's first.
  const many = Array.from({ length: BULK_MIN + 6 }, (_, n) => message(n, bob.address))
  const one = { ...message(0, carol.address), key: 'lmtp-0'.padEnd(64, '.') }
  const outcomes = await batch.deliver([...many, one])
  await waitFor('the idling phone to be told of all of them', () => told === many.length, 30_000)
  assert.deepEqual(new Set(outcomes.map((o) => o.verdict)), new Set(['delivered']))
  assert.deepEqual(bulk.stored, [`${bob.address} ${many.length}`], "bob's in one doveadm import, carol's over LMTP")
  assert.deepEqual(new Set(outcomes.slice(0, many.length).flatMap((o) => o.results.map((r) => r.text))), new Set(['Saved by doveadm import']), 'found in the mailbox after the import, none sent again over LMTP')

  const ids = messageIdCounts(node.data, bob.address)
  assert.equal(ids.size, many.length)
  assert.ok([...ids.values()].every((c) => c === 1), 'each message once')

  // In the bundle's order: Dovecot's UID order is the order of the messages.
  const uidlist = readFileSync(join(paths.mail, 'town.test', 'bob', 'Maildir', 'dovecot-uidlist'), 'latin1').split('\n').slice(1).filter(Boolean)
  const byName = new Map(maildirFiles(node.data, bob.address).map((f) => [f.split('/').pop()!.split(':')[0]!, f]))
  const order = uidlist.map((line) => {
    const name = line.split(':').pop()!.split(':')[0]!
    const file = [...byName].find(([n]) => n === name || name.startsWith(n))?.[1]
    return file ? /Subject: n(\d+)/.exec(readFileSync(file, 'latin1'))![1] : undefined
  })
  assert.deepEqual(order, many.map((_, n) => String(n)))

  // The same headers LMTP writes (Return-Path, Delivered-To, our trace header), with LF line ends.
  const bobFirst = maildirFiles(node.data, bob.address).find((f) => readFileSync(f, 'latin1').includes('Subject: n0\n'))!
  const carolFirst = maildirFiles(node.data, carol.address)[0]!
  assert.equal(headerOf(bobFirst).replaceAll(bob.address, 'X').replace(many[0]!.key, 'K'), headerOf(carolFirst).replaceAll(carol.address, 'X').replace(one.key, 'K'))
  assert.match(headerOf(bobFirst), new RegExp(`^Return-Path: <alice@camp.test>\nDelivered-To: ${bob.address}\n${DELIVERY_HEADER}: ${many[0]!.key}\n`))
  assert.ok(!readFileSync(bobFirst, 'latin1').includes('\r'), 'stored with LF line ends')

  // No staging Maildir is left behind.
  assert.deepEqual(readdirSync(paths.mail).filter((n) => n.startsWith('.')), [])

  // The same batch again stores nothing.
  const again = await batch.deliver([...many, one])
  assert.ok(again.every((o) => o.verdict === 'delivered' && o.results.length === 0))
  assert.equal(maildirFiles(node.data, bob.address).length, many.length)
})

test('mail too big for the quota skips the bulk store: LMTP stores what fits and refuses the rest with 552, nothing twice', { timeout: 180_000 }, async (t) => {
  const { node, bob, db, bulk, batch } = await townWithBulk(t, { bobQuotaMb: 1 })

  // 40 messages of 60 KB: 2.4 MB for a 1 MB quota.
  const many = Array.from({ length: 40 }, (_, n) => message(n, bob.address, 60_000))
  const outcomes = await batch.deliver(many)
  const delivered = outcomes.filter((o) => o.verdict === 'delivered').length
  const rejected = outcomes.filter((o) => o.verdict === 'rejected')
  assert.ok(delivered > 0 && delivered < many.length, `some fitted, not all (${delivered} delivered)`)
  assert.equal(delivered + rejected.length, many.length, outcomes.map((o) => o.text).join('\n'))
  assert.ok(rejected.every((o) => /5\.2\.2/.test(o.text) && /quota/i.test(o.text)), rejected[0]?.text)
  const ids = messageIdCounts(node.data, bob.address)
  assert.equal(ids.size, delivered, 'the mailbox has exactly the delivered ones')
  assert.ok([...ids.values()].every((c) => c === 1))
  const states = db.$client.prepare('SELECT state, count(*) AS n FROM deliveries GROUP BY state').all()
  assert.deepEqual(states, [{ state: 'delivered', n: delivered }], 'refused rows forgotten, no pending row left')
  assert.deepEqual([bulk.asked, bulk.stored], [[`${bob.address} 40`], []], 'too big for the quota: not stored in bulk')
})

test('doveadm import that stores nothing and still exits 0: the messages go over LMTP, each once', { timeout: 180_000 }, async (t) => {
  // The import is pointed at a Maildir that does not exist (beside the
  // staging one): doveadm reads nothing, stores nothing, and exits 0.
  const exits: number[] = []
  const blind: Exec = async (file, args, opts) => {
    const r = await exec(file, args.includes('import') ? args.map((a) => (a.startsWith('maildir:') ? a.replace(/\.import-[^/]+/, '.nowhere') : a)) : args, opts)
    if (args.includes('import')) exits.push(r.code)
    return r
  }
  const { node, bob, bulk, batch } = await townWithBulk(t, { run: blind })
  const many = Array.from({ length: BULK_MIN }, (_, n) => message(n, bob.address))
  const outcomes = await batch.deliver(many)
  assert.deepEqual(exits, [0], 'doveadm said it went well')
  assert.deepEqual(bulk.stored, [`${bob.address} ${BULK_MIN}`])
  assert.ok(outcomes.every((o) => o.verdict === 'delivered'))
  const ids = messageIdCounts(node.data, bob.address)
  assert.equal(ids.size, BULK_MIN)
  assert.ok([...ids.values()].every((c) => c === 1))
})
