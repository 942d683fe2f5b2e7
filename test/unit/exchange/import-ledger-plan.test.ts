// Import keeps its speed however much the ledger holds: every statement it
// runs against the ledger's tables (seen messages, deliveries, acks owed,
// imported bundles, the outbox) is an index seek, never a walk through the
// table, whose cost would grow with every message ever taken in. The
// statements are the ones a real import prepares, caught as they are
// prepared, so a new query on the path is checked too.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Db } from '../../../server/db/index.js'
import { twoPeeredNodes } from '../../helpers/exchange-pair.js'
import { seedOutbox } from '../../helpers/outbox-seed.js'

const LEDGER = ['seen_messages', 'deliveries', 'acks_owed', 'imported_bundles', 'outbox']

/** Records every SQL statement prepared on `db` until the returned function is called. */
function recordStatements(db: Db): () => string[] {
  const client = db.$client
  const prepare = client.prepare
  const seen = new Set<string>()
  client.prepare = function (this: typeof client, sql: string) {
    seen.add(sql)
    return prepare.call(this, sql)
  } as typeof client.prepare
  return () => {
    client.prepare = prepare
    return [...seen]
  }
}

/** The plan's lines that read a ledger table other than by a seek. */
function walks(db: Db, sql: string): string[] {
  const params = Array((sql.match(/\?/g) ?? []).length).fill(1)
  const lines = (db.$client.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail)
  return lines.filter((l) => LEDGER.some((t) => new RegExp(`^SCAN ${t}\\b`).test(l)))
}

test('every ledger statement of an import (mail, a duplicate bundle, acks) is an index seek', async () => {
  const { dir, camp, town, cx, tx, lmtp, close } = await twoPeeredNodes('op-import-plan-')
  /** A fresh folder for one carriage. */
  const folder = (name: string) => {
    const p = join(dir, name)
    mkdirSync(p)
    return p
  }
  try {
    const stick = folder('stick')
    seedOutbox(camp.db, { messages: 30, peers: ['town'], spool: camp.paths.spool, bodyBytes: 300 })
    await cx.exportTo(stick)
    const copy = folder('copy')
    // The same bundle again later: the duplicate check runs too.
    await cx.exportTo(copy)

    const atTown = recordStatements(town.db)
    const first = await tx.importFrom(stick)
    assert.equal(first[0]?.outcome.kind, 'imported')
    assert.equal(lmtp.stored.length, 30)
    const again = await tx.importFrom(copy)
    assert.ok(again.every((r) => r.outcome.kind === 'imported' || r.outcome.kind === 'duplicate'))
    const townSql = atTown()

    // Town owes acks now; camp takes them in and lets go of its copies.
    const back = folder('back')
    await tx.exportTo(back)
    const atCamp = recordStatements(camp.db)
    const acks = await cx.importFrom(back)
    assert.equal(acks[0]?.outcome.kind, 'imported')
    const campSql = atCamp()
    assert.equal((camp.db.$client.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n, 0, 'the acks released the outbox')

    const checked = [...townSql.map((sql) => [town.db, sql] as const), ...campSql.map((sql) => [camp.db, sql] as const)].filter(([, sql]) => LEDGER.some((t) => sql.includes(`"${t}"`) || sql.includes(` ${t} `)) && /^\s*(select|update|delete)/i.test(sql))
    assert.ok(checked.length >= 5, `the import ran ledger statements: ${checked.length}`)
    for (const [db, sql] of checked) assert.deepEqual(walks(db, sql), [], sql)
  } finally {
    await close()
  }
})
