// The carrier to a classic peer, with nncp-exec faked through the exec seam:
// the batches are plain batch SMTP an MTA reads, a message leaves the outbox
// only when nncp-exec took its packet, and a failed hand-over leaves it (and
// everything after it) for the next run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initNode } from '../../../server/node/init.js'
import { openNode } from '../../../server/context/context.js'
import { exec, type Exec } from '../../../server/base/exec.js'
import { Exchange, exchangeServices } from '../../../server/exchange/exchange.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import { parseBsmtp } from '../../../server/bundle/bsmtp.js'
import { classicNncpTransport } from '../../../server/transports/classic-nncp.js'
import { TransportConfigError } from '../../../server/transports/transport.js'

test('classic-nncp hands plain batches to nncp-exec and lets a message go only when its packet was taken', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-classic-nncp-'))
  try {
    const init = await initNode({ data: join(dir, 'camp'), domain: 'camp.test', host: '127.0.0.1' }, exec)
    const node = openNode(init.paths.data)
    try {
      const x = new Exchange(node, exchangeServices(node, { log: () => {} }))
      x.peers.addClassic('oldtown', { nncpNode: 'A'.repeat(52), domains: ['oldtown.test'] })
      for (const n of [1, 2, 3]) {
        const data = Buffer.from(`From: alice@camp.test\r\nMessage-ID: <c${n}@camp.test>\r\n\r\n.line ${n}\r\n`)
        x.outbox.enqueue({ messageId: stableMessageId(data, 'alice@camp.test'), sender: 'alice@camp.test', data, byPeer: new Map([['oldtown', [`bob${n}@oldtown.test`]]]), hops: 0 })
      }
      const calls: { args: readonly string[]; input: Buffer }[] = []
      let failAt = 2
      const fake: Exec = async (file, args, opts) => {
        if (file === 'nncp-toss') return { code: 0, stdout: '', stderr: '' }
        assert.equal(file, 'nncp-exec')
        calls.push({ args, input: Buffer.from(opts!.input!) })
        return calls.length === failAt ? { code: 1, stdout: '', stderr: 'ERROR: Unknown node' } : { code: 0, stdout: '', stderr: '' }
      }
      const config = classicNncpTransport.parseConfig({ node: 'oldtown', batch: '2', cfg: '/etc/nncp-oldtown.hjson' })
      const ctx = { node, exchange: x, peer: 'oldtown', exec: fake, log: () => {} }

      await assert.rejects(classicNncpTransport.run(ctx, config), /nncp-exec oldtown rsmtp failed \(exit 1\): ERROR: Unknown node; .*2 messages went in 1 batches before, the other 1 stay in the outbox/)
      assert.deepEqual(calls[0]!.args, ['-cfg', '/etc/nncp-oldtown.hjson', '-noprogress', '-quiet', 'oldtown', 'rsmtp'])
      const first = parseBsmtp(calls[0]!.input, {}, 'classic')
      assert.deepEqual(first.map((m) => m.recipients[0]), ['bob1@oldtown.test', 'bob2@oldtown.test'])
      assert.doesNotMatch(calls[0]!.input.toString('latin1'), /X-Outpost-Id/)
      assert.match(calls[0]!.input.toString('latin1'), /\r\n\.\.line 1\r\n/)
      assert.deepEqual(x.outbox.waiting('oldtown').map((r) => r.recipients[0]), ['bob3@oldtown.test'], 'the taken batch left the outbox; the refused one stayed')

      failAt = 0
      const r = await classicNncpTransport.run(ctx, config)
      assert.match(r.detail, /queued 1 messages in 1 batch SMTP packets for oldtown/)
      assert.deepEqual(parseBsmtp(calls.at(-1)!.input, {}, 'classic').map((m) => m.recipients[0]), ['bob3@oldtown.test'])
      assert.equal(x.outbox.waiting('oldtown').length, 0)
      const again = await classicNncpTransport.run(ctx, config)
      assert.match(again.detail, /queued 0 messages/)
      assert.equal(calls.length, 3, 'nothing is handed over twice')

      // Only to a classic peer.
      await assert.rejects(classicNncpTransport.run({ ...ctx, peer: 'nobody' }, config), /only to a classic peer, and "nobody" is not a peer/)
    } finally {
      node.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('classic-nncp settings are checked', () => {
  assert.throws(() => classicNncpTransport.parseConfig({}), /"node" is required/)
  assert.throws(() => classicNncpTransport.parseConfig({ node: 'old town' }), TransportConfigError)
  assert.throws(() => classicNncpTransport.parseConfig({ node: 'oldtown', batch: '0' }), /batch is a number/)
  assert.deepEqual(classicNncpTransport.parseConfig({ node: 'A'.repeat(52) }), { node: 'A'.repeat(52), cfg: undefined, handler: 'rsmtp', batch: '100', toss: 'yes' })
})
