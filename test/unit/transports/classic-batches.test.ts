// A classic carrier (batch SMTP to an Exim or Postfix node) made narrow
// hands over only what it takes, chat-sized first; a wide one everything,
// oldest first.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../server/db/index.js'
import { Outbox } from '../../../server/outbox/outbox.js'
import { classicBatches } from '../../../server/transports/classic-batches.js'
import { WIDE } from '../../../server/outbox/link-width.js'

test('a narrow classic carrier sends chat-sized mail first and holds what is over its limit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-classic-'))
  const db = openDb(join(dir, 'outpost.db'))
  try {
    const outbox = new Outbox(db, join(dir, 'spool'))
    const t0 = 1_900_000_000_000
    const mail: [string, number][] = [['a', 40 * 1024], ['b', 2300], ['c', 300 * 1024], ['d', 2000]]
    mail.forEach(([name, size], i) => {
      outbox.enqueue({ messageId: name.repeat(64), sender: 'alice@camp.test', data: Buffer.alloc(size, 'x'), byPeer: new Map([['exim', ['bob@exim.test']]]), hops: 0, now: t0 + i * 1000 })
    })
    const sent = (link = WIDE) => [...classicBatches(outbox, 'exim', 10, link)].flatMap((b) => b.ids.map((id) => id[0]))
    assert.deepEqual(sent(), ['a', 'b', 'c', 'd'])
    assert.deepEqual(sent({ narrow: true, maxMessageBytes: 64 * 1024 }), ['b', 'd', 'a'])
  } finally {
    db.$client.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
