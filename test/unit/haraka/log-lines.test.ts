import { test } from 'node:test'
import assert from 'node:assert/strict'
import constants from 'haraka-constants'
import { gatherLogLines, type HarakaLogger } from '../../../server/haraka/lib/log-lines.js'

const nextTurn = () => new Promise((r) => setImmediate(r))

test("a turn's log lines reach the supervisor in one write, in order, the same text Haraka would have written", async () => {
  const writes: string[] = []
  const logger: HarakaLogger = { timestamps: false, log_respond: () => false }
  gatherLogLines(logger, { write: (t) => writes.push(t) })
  const line = (data: string) => logger.log_respond(constants.cont, undefined, { level: 'INFO', data })
  assert.equal(line('[INFO] [c1] [core] connect'), true)
  line('[INFO] [c1] [core] S: 220 camp.test ESMTP')
  assert.equal(logger.log_respond(constants.ok, undefined, { level: 'INFO', data: 'taken by a log plugin' }), false)
  assert.deepEqual(writes, [], 'nothing written while the hook runs')
  await nextTurn()
  assert.deepEqual(writes, ['[INFO] [c1] [core] connect\n[INFO] [c1] [core] S: 220 camp.test ESMTP\n'])

  logger.timestamps = true
  line('[NOTICE] [c1] [core] disconnect')
  await nextTurn()
  assert.match(writes[1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[NOTICE\] \[c1\] \[core\] disconnect\n$/)
  assert.equal(writes.length, 2)
})

test('the lines gathered when the process exits are written at once, not lost', () => {
  const writes: string[] = []
  const logger: HarakaLogger = { timestamps: false, log_respond: () => false }
  const flush = gatherLogLines(logger, { write: (t) => writes.push(t) })
  logger.log_respond(constants.cont, undefined, { level: 'INFO', data: '[INFO] [c1] delivery delivered' })
  flush()
  assert.deepEqual(writes, ['[INFO] [c1] delivery delivered\n'])
  flush()
  assert.equal(writes.length, 1, 'written once')
})
