// The README's one command on the users' system: a fresh Debian 13 "trixie"
// (debootstrap's minimal root, as a new box or container starts), a clean
// copy of the checkout, and `./quickstart.sh` run as root with nothing else
// installed. It must install what it needs from Debian (Dovecot 2.4,
// Node.js 20.19, npm 9.2) and npm's registry alone, build, and run a node
// that prints its ready line. Then the node answers as a phone meets it:
// health, SMTP AUTH only after STARTTLS, and IMAP login over TLS.
//
// Needs root (chroot, mounts), debootstrap and Debian's mirror, and the npm
// registry. The node listens on loopback high ports (environment
// overrides), so it meets nothing of this machine's.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { request } from 'node:https'
import { ImapFlow } from 'imapflow'
import { freePort } from '../helpers/ports.js'
import { smtpClient } from '../helpers/mail.js'
import { SmtpDialogue } from '../helpers/smtp-dialogue.js'
import { tearDownRoot } from '../helpers/chroot.js'

const REPO = new URL('../../', import.meta.url).pathname
const DOMAIN = 'camp.test'
// apt (Dovecot, Node.js, npm and its ~450 small packages, g++), npm ci,
// better-sqlite3 built from source, the build: minutes on two cores.
const READY_MS = 40 * 60_000

function run(file: string, args: string[], timeoutMs = 10 * 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-4000)}`))
      else resolve(stdout)
    })
  })
}

function getJson(port: number, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }))
    })
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')))
    req.end()
  })
}

describe('./quickstart.sh on a fresh Debian trixie', { timeout: READY_MS + 10 * 60_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'outpost-quickstart-'))
  const root = join(work, 'root')
  const checkout = '/home/owner/outpost'
  let node: ChildProcess | undefined
  let log = ''
  const ports = { submission: 0, smtps: 0, imap: 0, imaps: 0, web: 0 }
  const password = 'a long demo password for alice'

  const inRoot = (args: string[]) => run('chroot', [root, '/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', ...args])

  before(async () => {
    const base = (await run('bash', [join(REPO, 'test/trixie/root.sh'), 'base'], 20 * 60_000)).trim()
    await run('cp', ['-a', base, root])
    // A clean copy of the checkout: what git knows of, nothing built or installed.
    const files = execFileSync('git', ['-C', REPO, 'ls-files', '-co', '--exclude-standard', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean)
    for (const f of files) {
      const to = join(root, checkout, f)
      mkdirSync(dirname(to), { recursive: true })
      try {
        copyFileSync(join(REPO, f), to)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err // deleted but not yet committed
      }
    }
    await run('chmod', ['+x', join(root, checkout, 'quickstart.sh'), join(root, checkout, 'bin/outpost.mjs')])
    copyFileSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'))
    // The root trusts what this machine trusts: where the registry is reached
    // through a TLS-inspecting proxy, its CA is in this bundle (npm, through
    // Node, reads it from NODE_EXTRA_CA_CERTS below).
    copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(root, 'etc/ssl/certs/ca-certificates.crt'))
    for (const d of ['proc', 'dev', 'sys']) await run('mount', ['--rbind', `/${d}`, join(root, d)])
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort()
  })

  after(async () => {
    await tearDownRoot(root, work, node)
  })

  it('installs from Debian and npm alone and prints the ready line', async () => {
    const env = {
      NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
      DOMAIN,
      OUTPOST_LISTEN_ADDRESS: '127.0.0.1',
      OUTPOST_NODE_HOST: '127.0.0.1',
      OUTPOST_LISTEN_MDNS: 'false',
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [`OUTPOST_PORTS_${k.toUpperCase()}`, String(v)])),
    }
    node = spawn('chroot', [root, '/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), `${checkout}/quickstart.sh`], { stdio: ['ignore', 'pipe', 'pipe'] })
    const ready = new Promise<void>((resolve, reject) => {
      const seen = (chunk: Buffer) => {
        log += chunk.toString()
        if (/^outpost ready: /m.test(log)) resolve()
      }
      node!.stdout!.on('data', seen)
      node!.stderr!.on('data', seen)
      node!.once('exit', (code) => reject(new Error(`quickstart.sh exited (${code}) before the node was ready:\n${log.slice(-6000)}`)))
    })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([ready, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no ready line in ${READY_MS / 60_000} min:\n${log.slice(-6000)}`)), READY_MS)))])
    clearTimeout(timer)
    assert.match(log, new RegExp(`^outpost ready: ${DOMAIN.replace('.', '\\.')} — web admin https://127\\.0\\.0\\.1:${ports.web}/`, 'm'))
    assert.match(log, /dovecot-core/, 'Dovecot came from Debian')
    assert.match(log, /== alice@camp\.test ==/, 'the demo accounts and their QR codes were printed')
    assert.match(log, /setup code: [A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}/, 'the web admin setup code was printed for the owner')
    assert.doesNotMatch(log, /ExperimentalWarning/)
    const versions = await inRoot(['sh', '-c', 'node -v; npm -v; dovecot --version'])
    console.log(`# quickstart ran on: ${versions.trim().split('\n').join(', ')}`)
    assert.match(versions, /^v20\.19\./m, "Debian trixie's Node.js")
    assert.match(versions, /^9\.2\./m, "Debian trixie's npm")
    assert.match(versions, /^2\.4\./m, "Debian trixie's Dovecot")
  })

  it('answers health, SMTP AUTH only after STARTTLS, and IMAP login over TLS', async () => {
    const h = await getJson(ports.web, '/api/health')
    assert.equal(h.status, 200)
    assert.equal(h.body.status, 'ok', JSON.stringify(h.body))

    await inRoot(['node', `${checkout}/bin/outpost.mjs`, 'account', 'passwd', `alice@${DOMAIN}`, '--password', password, '--data', '/var/lib/outpost'])
    const { smtp, greeting } = await SmtpDialogue.open(ports.submission)
    assert.equal(greeting.code, 220)
    const ehlo = await smtp.cmd('EHLO phone.test')
    assert.doesNotMatch(ehlo.text, /^AUTH/m, 'no AUTH before TLS')
    assert.match(ehlo.text, /^STARTTLS$/m)
    smtp.close()
    await smtpClient(ports.submission, { address: `alice@${DOMAIN}`, password }).verify()

    const imap = new ImapFlow({ host: '127.0.0.1', port: ports.imaps, secure: true, tls: { rejectUnauthorized: false }, auth: { user: `alice@${DOMAIN}`, pass: password }, logger: false })
    await imap.connect()
    const box = await imap.mailboxOpen('INBOX')
    assert.equal(box.path, 'INBOX')
    assert.ok(imap.capabilities.has('XCHATMAIL'), 'Delta Chat sees a chatmail server')
    await imap.logout()
    const wrong = new ImapFlow({ host: '127.0.0.1', port: ports.imaps, secure: true, tls: { rejectUnauthorized: false }, auth: { user: `alice@${DOMAIN}`, pass: 'wrong' }, logger: false })
    await assert.rejects(wrong.connect(), 'a wrong password is refused')
  })
})
