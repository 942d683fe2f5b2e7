// Import of a classic peer's batch (exchange/import.ts importClassic), with
// a fake LMTP for Dovecot: a well-formed batch is delivered once; a batch
// that is malformed, or from no classic peer, is kept whole in quarantine
// before anything is delivered; with Dovecot away the batch is deferred and
// nothing is marked seen, so the carrier's next try delivers it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { initNode } from '../../../server/node/init.js'
import { openNode } from '../../../server/context/context.js'
import { exec } from '../../../server/base/exec.js'
import { Exchange, exchangeServices } from '../../../server/exchange/exchange.js'
import { listQuarantine } from '../../../server/base/quarantine.js'
import { FakeLmtp } from '../../helpers/fake-lmtp.js'

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1')
const batch = (id: string, sender = 'bob@oldtown.test') => crlf(`MAIL FROM:<${sender}>\nRCPT TO:<alice@camp.test>\nDATA\nFrom: ${sender}\nMessage-ID: <${id}@oldtown.test>\n\nhi\n.\n`)

test('a classic batch is delivered once, kept whole in quarantine when malformed or from no peer, and deferred while Dovecot is away', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-classic-import-'))
  let lmtp: FakeLmtp | undefined
  try {
    const init = await initNode({ data: join(dir, 'camp'), domain: 'camp.test', host: '127.0.0.1' }, exec)
    const node = openNode(init.paths.data)
    try {
      const x = new Exchange(node, exchangeServices(node, { log: () => {} }))
      x.peers.addClassic('oldtown', { nncpNode: 'A'.repeat(52), domains: ['oldtown.test'] })

      // Dovecot away: deferred, and the carrier keeps the batch.
      const away = await x.importClassic('oldtown', batch('m1'))
      assert.equal(away.kind, 'deferred')

      mkdirSync(dirname(node.paths.lmtpSocket), { recursive: true })
      lmtp = await new FakeLmtp(node.paths.lmtpSocket).listen()
      const first = await x.importClassic('oldtown', batch('m1'))
      assert.equal(first.kind, 'imported')
      assert.equal(first.kind === 'imported' && first.delivered, 1)
      assert.equal(lmtp.stored.length, 1)
      assert.equal((await x.importClassic('oldtown', batch('m1'))).kind, 'duplicate')
      assert.equal(lmtp.stored.length, 1)

      // Two messages, the second one malformed (bare LF): nothing of the batch is delivered.
      const bad = Buffer.concat([batch('m2'), Buffer.from('MAIL FROM:<bob@oldtown.test>\nRCPT TO:<alice@camp.test>\r\n')])
      const q = await x.importClassic('oldtown', bad, { name: 'bad.bsmtp' })
      assert.equal(q.kind, 'quarantined')
      assert.match(q.kind === 'quarantined' ? q.detail : '', /from classic peer oldtown: BSMTP line 9: .*bare CR or LF/)
      assert.equal(lmtp.stored.length, 1)

      const stranger = await x.importClassic('river', batch('m3'))
      assert.equal(stranger.kind, 'quarantined')
      assert.match(stranger.kind === 'quarantined' ? `${stranger.reason}: ${stranger.detail}` : '', /^not-a-peer: river is not a classic peer/)

      // A sender outside the peer's domains: that message is kept, the batch is taken.
      const spoof = await x.importClassic('oldtown', Buffer.concat([batch('m4'), batch('m5', 'mallory@elsewhere.test')]))
      assert.equal(spoof.kind, 'imported')
      assert.equal(spoof.kind === 'imported' && `${spoof.delivered}/${spoof.quarantined}`, '1/1')
      const reasons = listQuarantine(node.paths.quarantine).map((e) => e.reason).join('\n')
      assert.match(reasons, /oldtown may not send as <mallory@elsewhere\.test>/)
      assert.equal(lmtp.stored.length, 2)
    } finally {
      node.close()
    }
  } finally {
    await lmtp?.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
