import { test } from 'node:test'
import assert from 'node:assert/strict'
import { campKnowingTown } from '../../helpers/exchange-pair.js'
import { ONLINE_POLICIES } from '../../../server/outbox/resend-policy.js'

// HTTP's first retransmit timeout: how long an `event` transport waits before it sends unacked mail again.
const http = ONLINE_POLICIES.http
const RESEND_AFTER_MS = http?.kind === 'backoff' ? http.baseMs : 0

test('event transports send new mail at once and resend mail that stayed unacked too long', async () => {
  const { x, close } = await campKnowingTown('op-resend-')
  try {
    assert.deepEqual(x.peersWithUnsentWork(), [])
    const id = 'a'.repeat(64)
    const t0 = 1_000_000_000_000
    x.outbox.enqueue({ messageId: id, sender: 'alice@camp.test', data: Buffer.from('Subject: x\r\n\r\nhi\r\n'), byPeer: new Map([['town', ['bob@town.test']]]), hops: 0, now: t0 })
    assert.deepEqual(x.peersWithUnsentWork(t0), ['town'], 'never exported: due at once')
    x.outbox.markExported('town', [id], 'b'.repeat(32), t0)
    assert.deepEqual(x.peersWithUnsentWork(t0 + 60_000), [], 'just sent: not again yet')
    assert.deepEqual(x.peersWithUnsentWork(t0 + RESEND_AFTER_MS + 1), ['town'], 'unacked for too long: sent again')
    x.outbox.acknowledge('town', [id])
    assert.deepEqual(x.peersWithUnsentWork(t0 + RESEND_AFTER_MS + 1), [], 'acked: nothing to send')
  } finally {
    close()
  }
})
