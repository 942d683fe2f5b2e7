// `outpost queue` on a large outbox prints per-peer counts and a page per
// peer, says how to get the next page, and `--all` prints every message once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { printQueue } from '../../../server/cli/queue-view.js'
import { seedOutbox } from '../../helpers/outbox-seed.js'

test('outpost queue prints counts per peer and a page each; the cursor it prints continues; --all prints everything once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-cliq-'))
  const db = openDb(join(dir, 'outpost.db'))
  try {
    const peers = Array.from({ length: 50 }, (_, i) => `p${String(i).padStart(2, '0')}`)
    seedOutbox(db, { messages: 20_000, peers, bodyBytes: 100 })
    const lines: string[] = []
    printQueue(db, {}, (l) => lines.push(l))
    const headings = lines.filter((l) => /^p\d\d: 400 messages \(/.test(l))
    assert.equal(headings.length, 50)
    assert.equal(lines.filter((l) => l.startsWith('  ') && l.includes('not exported yet')).length, 500, '10 per peer')
    const hint = lines.find((l) => l.includes('outpost queue --peer p07 --after'))!
    const cursor = /--after (\S+)/.exec(hint)![1]!

    const one: string[] = []
    printQueue(db, { peer: 'p07', after: cursor, limit: 1000 }, (l) => one.push(l))
    assert.equal(one[0], headings[7])
    assert.equal(one.filter((l) => l.includes('not exported yet')).length, 390, 'the rest of p07 after the first 10')
    assert.ok(!one.some((l) => l.includes('--after')), 'the last page says no more')

    const all: string[] = []
    printQueue(db, { all: true }, (l) => all.push(l))
    const ids = all.filter((l) => l.startsWith('  ')).map((l) => l.trim().split(' ')[0])
    assert.equal(ids.length, 20_000)

    const none: string[] = []
    printQueue(db, { peer: 'nobody' }, (l) => none.push(l))
    assert.deepEqual(none, ['nothing waits for nobody'])
  } finally {
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
