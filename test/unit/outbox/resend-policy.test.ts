// The resend policy per carrier: stores write everything unacknowledged on
// every run; online and narrow carriers send once, then again only after a
// retransmit timeout that doubles with each try, up to a cap.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { EVERY_RUN, isDue, nextDueAt, nextDueSql, ONLINE_POLICIES, resendPolicyFor, retransmitTimeout } from '../../../server/outbox/resend-policy.js'

const MIN = 60_000
const HOUR = 60 * MIN
const T0 = 1_800_000_000_000

test('store carriers write everything unacknowledged on every run, whenever it last left', () => {
  for (const via of ['folder', 'usb', 'syncthing', 'filespooler', 'stdin', 'something-new']) {
    assert.deepEqual(resendPolicyFor(via), EVERY_RUN, via)
    // Just left a second ago, by the very same carrier: written again.
    assert.equal(nextDueAt(via, 1, T0), null, `${via} leaves the due time as it was`)
    assert.equal(isDue(resendPolicyFor(via), T0 + 3_600_000, T0 + 1000), true, via)
  }
})

test('http sends once, then after 10 min, 20, 40 … capped at 12 h', () => {
  const p = resendPolicyFor('http')
  assert.equal(p.kind, 'backoff')
  assert.equal(isDue(p, 0, T0), true, 'never left: due at once')
  const expected = [10 * MIN, 20 * MIN, 40 * MIN, 80 * MIN, 160 * MIN, 320 * MIN, 640 * MIN, 12 * HOUR, 12 * HOUR]
  for (const [i, rto] of expected.entries()) {
    const tries = i + 1
    const due = nextDueAt('http', tries, T0)!
    assert.equal(due - T0, rto, `after try ${tries}`)
    assert.equal(isDue(p, due, T0 + rto - 1), false, `try ${tries}: not before its timeout`)
    assert.equal(isDue(p, due, T0 + rto), true, `try ${tries}: due when it has passed`)
  }
  assert.equal(retransmitTimeout(ONLINE_POLICIES.http as never, 1000), 12 * HOUR, 'no overflow however many tries')
})

test('nncp and the radio wait longer than http: their round trips are longer', () => {
  assert.equal(nextDueAt('nncp', 1, T0)! - T0, HOUR)
  assert.equal(nextDueAt('nncp', 3, T0)! - T0, 4 * HOUR)
  assert.equal(nextDueAt('nncp', 20, T0)! - T0, 48 * HOUR)
  assert.equal(nextDueAt('lora', 1, T0)! - T0, 30 * MIN)
  assert.equal(nextDueAt('lora', 2, T0)! - T0, 60 * MIN)
  assert.equal(resendPolicyFor('nncp').kind, 'backoff')
  assert.equal(resendPolicyFor('lora').kind, 'backoff')
})

test('a copy on a stick does not hold an online carrier back: it sends the message once, at once', () => {
  const due = 0 // never sent online; a stick took it a moment ago and left due_at alone
  assert.equal(nextDueAt('usb', 1, T0), null)
  assert.equal(isDue(resendPolicyFor('http'), due, T0 + 1), true)
  const afterHttp = nextDueAt('http', 2, T0 + 1)!
  assert.equal(isDue(resendPolicyFor('http'), afterHttp, T0 + 2), false, 'then it waits its timeout')
  assert.equal(isDue(EVERY_RUN, afterHttp, T0 + 2), true, 'the next stick takes it anyway')
})

test('the SQL that stores the next due time agrees with nextDueAt for every carrier and try', () => {
  const db = new Database(':memory:')
  for (const via of ['http', 'nncp', 'lora', 'folder']) {
    for (const before of [0, 1, 2, 5, 10, 31, 40, 100]) {
      const s = nextDueSql(via, T0)
      const current = 42
      const got = (db.prepare(`SELECT ${s.sql.replaceAll('exports', '?').replace(/^due_at$/, '?')} AS d`).get(...(s.params.length ? [s.params[0], s.params[1], before, s.params[2]] : [current])) as { d: number }).d
      assert.equal(got, nextDueAt(via, before + 1, T0) ?? current, `${via}, ${before} departures before`)
    }
  }
  db.close()
})
