// Checks that Debian's exim reads the mail payload of a bundle as batch SMTP
// (`exim -bS`), the interoperability promise of docs/bundle-format.md.
//
// Skipped unless OUTPOST_TEST_EXIM names an exim binary and the test runs as
// root: exim4 conflicts with the Postfix the benchmarks use, so it is not
// installed on the node. To run it, unpack exim4-daemon-light (and its
// libidn12) from Debian with `dpkg -x` into a scratch folder, create the
// system user exim was built for (`useradd --system Debian-exim`), and point
// OUTPOST_TEST_EXIM (and LD_LIBRARY_PATH if needed) at it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeBsmtp, type BsmtpMessage } from '../../../server/bundle/bsmtp.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'

const exim = process.env.OUTPOST_TEST_EXIM
const skip = !exim ? 'OUTPOST_TEST_EXIM is not set' : process.getuid?.() !== 0 ? 'exim -C needs root' : false

function message(n: number, sender: string, recipients: string[], body: string): BsmtpMessage {
  const data = Buffer.from(`Message-ID: <${n}@alpha.test>\r\nFrom: <a@alpha.test>\r\nSubject: [...]\r\n\r\n${body}`, 'latin1')
  return { sender, recipients, data, id: stableMessageId(data, sender) }
}

test('exim -bS accepts every message of a bundle payload, with envelope, id header and dot lines intact', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-exim-'))
  try {
    chmodSync(dir, 0o755)
    for (const sub of ['spool', 'log']) {
      mkdirSync(join(dir, sub))
      chmodSync(join(dir, sub), 0o777)
    }
    const conf = join(dir, 'exim.conf')
    // Queue only (-odq below): no routers or transports are needed to see
    // what exim accepted, and nothing leaves the scratch spool.
    writeFileSync(
      conf,
      [
        'keep_environment =',
        `spool_directory = ${join(dir, 'spool')}`,
        `log_file_path = ${join(dir, 'log')}/%slog`,
        'primary_hostname = beta.test',
        'begin routers',
        'begin transports',
        '',
      ].join('\n'),
      { mode: 0o644 },
    )
    const messages = [
      message(1, 'a@alpha.test', ['b@beta.test', 'c@beta.test'], '-----BEGIN PGP MESSAGE-----\r\n\r\nwcFMA\r\n-----END PGP MESSAGE-----\r\n'),
      message(2, '', ['b@beta.test'], 'a bounce\r\n.\r\n..two dots\r\n'),
    ]
    execFileSync(exim!, ['-C', conf, '-odq', '-bS'], { input: writeBsmtp(messages) })
    const queue = execFileSync(exim!, ['-C', conf, '-bp'], { encoding: 'latin1' })
    const ids = [...queue.matchAll(/^\s*\S+\s+\d+\s+(\S{16,23})\s+(<[^>]*>)/gm)].map((m) => ({ id: m[1]!, sender: m[2]! }))
    assert.equal(ids.length, 2, queue)
    assert.match(queue, /c@beta\.test/)
    const bodies = ids.map(({ id }) => execFileSync(exim!, ['-C', conf, '-Mvb', id], { encoding: 'latin1' }))
    const headers = ids.map(({ id }) => execFileSync(exim!, ['-C', conf, '-Mvh', id], { encoding: 'latin1' }))
    const bounce = ids.findIndex((m) => m.sender === '<>')
    assert.ok(bounce !== -1, queue)
    assert.ok(bodies[bounce]!.includes('a bounce\n.\n..two dots\n'), bodies[bounce])
    assert.ok(headers[bounce]!.includes(`X-Outpost-Id: ${messages[1]!.id}`), headers[bounce])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
