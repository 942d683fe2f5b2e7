// The command line is a contract: these forms must keep working.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { runCli } from '../../helpers/node.js'
import { freePort } from '../../helpers/ports.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'op-cli-'))

test('init writes a documented config, a database and a certificate; a second init is refused', async () => {
  const dir = tmp()
  try {
    const r = await runCli(['init', '--data', dir, '--domain', 'camp.test', '--host', '10.42.0.1', '--web-port', '9443'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Initialised node camp for camp\.test/)
    // Node 20 (Debian trixie's 20.19) warns about X25519 in Web Crypto, which
    // making the node's keys uses; a user must not see internals.
    assert.doesNotMatch(r.stderr, /Warning/, 'init prints no Node warnings')
    const conf = readFileSync(join(dir, 'outpost.toml'), 'utf8')
    assert.match(conf, /^domain = "camp\.test"$/m)
    assert.match(conf, /^host = "10\.42\.0\.1"$/m)
    assert.match(conf, /^web = 9443$/m)
    assert.match(readFileSync(join(dir, 'tls', 'cert.pem'), 'utf8'), /BEGIN CERTIFICATE/)
    const again = await runCli(['init', '--data', dir, '--domain', 'camp.test'])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already an Outpost node/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('init refuses bad flags with a usage message', async () => {
  const dir = tmp()
  try {
    let r = await runCli(['init', '--data', dir])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /needs --domain/)
    r = await runCli(['init', '--data', dir, '--domain', 'camp.test', '--web-port', '99999'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--web-port must be a port number/)
    r = await runCli(['init', '--data', dir, '--domain', 'camp.test', '--name', 'Camp Site'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /--name "Camp Site": a node name is lower-case/)
    r = await runCli(['init', '--data', dir, '--domain', 'camp.test', '--web-port', '2000', '--imap-port', '2000'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /both 2000/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('accounts: add, list, passwd, qr, remove; --data in any position and $OUTPOST_DATA', async () => {
  const dir = tmp()
  try {
    assert.equal((await runCli(['init', '--domain', 'camp.test', '--host', '127.0.0.1', '--data', dir])).code, 0)
    const add = await runCli(['account', '--data', dir, 'add', 'alice@camp.test'])
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout, /password: [a-zA-Z2-9]{24}/)
    const short = await runCli(['account', 'add', 'bob', '--password', 'bobs long password'], { OUTPOST_DATA: dir })
    assert.equal(short.code, 0, short.stderr)
    assert.doesNotMatch(short.stdout, /password:/)
    const list = await runCli(['account', 'list', '--data', dir])
    assert.deepEqual(list.stdout.trim().split('\n').map((l) => l.split('\t')[0]), ['alice@camp.test', 'bob@camp.test'])
    const foreign = await runCli(['account', 'add', 'eve@elsewhere.test', '--data', dir])
    assert.equal(foreign.code, 1)
    assert.match(foreign.stderr, /serves camp\.test/)
    const qr = await runCli(['account', 'qr', 'bob@camp.test', '--uri', '--password', 'bobs long password', '--data', dir])
    assert.equal(qr.code, 0, qr.stderr)
    const ports = readFileSync(join(dir, 'outpost.toml'), 'utf8')
    const imap = /^imap = (\d+)$/m.exec(ports)![1]
    assert.equal(qr.stdout.trim(), `dclogin:bob@camp.test?p=bobs%20long%20password&v=1&ih=127.0.0.1&ip=${imap}&is=starttls&sh=127.0.0.1&sp=${/^submission = (\d+)$/m.exec(ports)![1]}&ss=starttls&ic=3`)
    const badpw = await runCli(['account', 'qr', 'bob@camp.test', '--uri', '--password', 'not the password', '--data', dir])
    assert.equal(badpw.code, 2)
    const term = await runCli(['account', 'qr', 'alice@camp.test', '--data', dir])
    assert.equal(term.code, 0)
    assert.match(term.stdout, /[▀▄█]/)
    assert.match(term.stdout, /^dclogin:alice@camp\.test\?p=/m)
    const pw = await runCli(['account', 'passwd', 'alice@camp.test', '--password', 'another long one', '--data', dir])
    assert.equal(pw.code, 0)
    const rm = await runCli(['account', 'remove', 'alice@camp.test', '--data', dir])
    assert.equal(rm.code, 0)
    const gone = await runCli(['account', 'remove', 'alice@camp.test', '--data', dir])
    assert.equal(gone.code, 1)
    assert.match(gone.stderr, /no such account/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('start explains what is wrong: uninitialised dir, bad config, missing Dovecot, port in use', async () => {
  const dir = tmp()
  try {
    let r = await runCli(['start', '--data', join(dir, 'nothing')])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /not an initialised Outpost node.*outpost init/s)

    const ports = { smtp: await freePort(), smtps: await freePort(), imap: await freePort(), imaps: await freePort(), web: await freePort() }
    assert.equal(
      (await runCli(['init', '--data', dir, '--domain', 'camp.test', '--listen', '127.0.0.1', '--host', '127.0.0.1',
        '--smtp-port', String(ports.smtp), '--smtps-port', String(ports.smtps), '--imap-port', String(ports.imap), '--imaps-port', String(ports.imaps), '--web-port', String(ports.web)])).code,
      0,
    )
    const conf = join(dir, 'outpost.toml')
    const original = readFileSync(conf, 'utf8')
    writeFileSync(conf, original.replace(/^send_burst = \d+$/m, 'send_burst = "lots"'))
    r = await runCli(['start', '--data', dir])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /limits\.send_burst: expected a whole number/)

    writeFileSync(conf, original)
    r = await runCli(['start', '--data', dir], { PATH: '/nonexistent' })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /apt-get install .*dovecot/)

    const blocker = createServer()
    await new Promise<void>((res) => blocker.listen({ host: '127.0.0.1', port: ports.imap }, res))
    try {
      r = await runCli(['start', '--data', dir])
      assert.equal(r.code, 1)
      assert.match(r.stderr, new RegExp(`port ${ports.imap} \\(imap\\).*already in use`))
    } finally {
      blocker.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('an error meant for people is one plain line without a stack trace: a bad hotspot SSID, a data dir Dovecot cannot take', async () => {
  const dir = tmp()
  const spaced = mkdtempSync(join(tmpdir(), 'op cli '))
  try {
    assert.equal((await runCli(['init', '--data', dir, '--domain', 'camp.test', '--host', '127.0.0.1'])).code, 0)
    const conf = join(dir, 'outpost.toml')
    const ssid = 'a'.repeat(33)
    const [before, hotspotSection] = readFileSync(conf, 'utf8').split(/^\[hotspot\]$/m)
    writeFileSync(conf, `${before}[hotspot]${hotspotSection!.replace(/^enabled = false$/m, 'enabled = true').replace(/^ssid = .*$/m, `ssid = "${ssid}"`)}`)
    const hotspot = await runCli(['hotspot', 'apply', '--data', dir])
    assert.equal(hotspot.code, 1)
    assert.equal(hotspot.stderr.trim(), `outpost: [hotspot] ssid: must be 1 to 32 bytes (UTF-8), "${ssid}" has 33`)

    const ports = ['--smtp-port', '--smtps-port', '--imap-port', '--imaps-port', '--web-port']
    const portArgs: string[] = []
    for (const p of ports) portArgs.push(p, String(await freePort()))
    assert.equal((await runCli(['init', '--data', spaced, '--domain', 'camp.test', '--host', '127.0.0.1', '--listen', '127.0.0.1', ...portArgs])).code, 0)
    const start = await runCli(['start', '--data', spaced])
    assert.equal(start.code, 1)
    const lines = start.stderr.trim().split('\n').filter((l) => l.startsWith('outpost: '))
    assert.deepEqual(lines, [`outpost: paths.dovecotBase "${join(spaced, 'run', 'dovecot')}" cannot be written into dovecot.conf: use a data directory whose path has only letters, digits and . _ - + @ / in it`])
    assert.doesNotMatch(start.stderr, /^\s+at /m, 'no stack trace')
  } finally {
    rmSync(dir, { recursive: true, force: true })
    rmSync(spaced, { recursive: true, force: true })
  }
})
