// The .deb, end to end: built by image/build-deb.sh, checked with
// dpkg-deb, installed into a fresh Debian root, and the node started from
// the installed files as the outpost user the package created. Twice: on
// Debian 13 "trixie" (the users' system: apt installs the package with its
// dependencies, Debian's Node 20.19 and Dovecot 2.4 among them) and on
// Debian 12 bookworm (Dovecot 2.3, Node from elsewhere). Its health endpoint answers, and two
// Delta Chat clients configured from the installed node's dclogin: QR codes
// send and receive. Then the package is removed (data kept) and purged
// (data and user gone), and the whole root is deleted.
//
// Needs root (debootstrap, chroot), Debian's mirror, and the debootstrap
// package. There is no systemd as PID 1 here, so the node is started the
// way the unit would start it, by hand. The trixie root is a copy of the
// cached minimal root of the trixie tier (test/trixie/root.sh), never used
// before. Node.js >= 20.19 is not in bookworm: a box gets it from
// NodeSource's nodejs package; here a nodejs package is made from this
// machine's own node binary to stand in for it.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:https'
import { freePort } from '../../helpers/ports.js'
import { Phone, secureJoin } from '../../helpers/deltachat.js'
import { processesIn, tearDownRoot } from '../../helpers/chroot.js'

const REPO = new URL('../../../', import.meta.url).pathname
const MIRROR = process.env.OUTPOST_TEST_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian'
const DOMAIN = 'box.test'
const WAIT_MS = 90_000

function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-4000)}\n${stdout.slice(-2000)}`))
      else resolve({ stdout, stderr })
    })
  })
}

/** A symlink in the fresh root: its target is absolute inside that root, so existsSync from here would follow it out of it. */
function linkIn(root: string, path: string): boolean {
  try {
    return lstatSync(join(root, path)).isSymbolicLink()
  } catch {
    return false
  }
}

/** A nodejs package holding this machine's node binary, standing in for NodeSource's in the fresh root. */
async function nodejsStandIn(dir: string): Promise<string> {
  const pkg = join(dir, 'nodejs-pkg')
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true })
  mkdirSync(join(pkg, 'usr/bin'), { recursive: true })
  copyFileSync(process.execPath, join(pkg, 'usr/bin/node'))
  chmodSync(join(pkg, 'usr/bin/node'), 0o755)
  const arch = (await run('dpkg', ['--print-architecture'])).stdout.trim()
  writeFileSync(
    join(pkg, 'DEBIAN/control'),
    `Package: nodejs\nVersion: ${process.versions.node}-0standin\nArchitecture: ${arch}\nMaintainer: Outpost tests <tests@localhost>\nDepends: libc6, libstdc++6, libgcc-s1\nDescription: this machine's node binary, standing in for NodeSource's nodejs package\n`,
  )
  const deb = join(dir, 'nodejs-standin.deb')
  await run('dpkg-deb', ['--root-owner-group', '-Znone', '--build', pkg, deb])
  return deb
}

// One package for both releases, as one .deb is published for both.
const debDir = mkdtempSync(join(tmpdir(), 'outpost-deb-out-'))
let built: Promise<string> | undefined
function buildDeb(): Promise<string> {
  built ??= run('bash', [join(REPO, 'image/build-deb.sh'), debDir], { env: { ...process.env, OUTPOST_DEB_COMPRESSION: 'gzip' }, cwd: REPO }).then((r) => r.stdout.trim().split('\n').at(-1)!)
  return built
}
process.on('exit', () => rmSync(debDir, { recursive: true, force: true }))

/** The package names of the .deb's Depends (the first choice of each), for apt to install. */
function debDepends(deb: string): string[] {
  const r = spawnSync('dpkg-deb', ['--field', deb, 'Depends'], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`dpkg-deb --field ${deb} Depends failed: ${r.stderr}`)
  return r.stdout.split(',').map((d) => d.split('|')[0]!.trim().split(/[\s(]/)[0]!).filter(Boolean)
}

function get(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // The box's certificate is self-signed, as on every box.
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')))
    req.end()
  })
}

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await get(port, '/api/health')
  return { status: r.status, body: JSON.parse(r.text) as Record<string, unknown> }
}

for (const suite of ['trixie', 'bookworm'] as const) describe(`the .deb installs onto a fresh Debian ${suite} and the node serves Delta Chat`, { timeout: 30 * 60_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'outpost-deb-'))
  const root = join(work, 'root')
  let deb = ''
  let node: ChildProcess | undefined
  let nodeLog = ''
  const phones: Phone[] = []
  let env: Record<string, string> = {}
  let webPort = 0
  const timings: Record<string, number> = {}

  /** Runs a command inside the fresh root, as root or as the outpost user. */
  const inRoot = (args: string[], opts: { user?: string; env?: Record<string, string>; timeoutMs?: number } = {}) =>
    run('chroot', [...(opts.user ? [`--userspec=${opts.user}:${opts.user}`] : []), root, '/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`), ...args], { timeoutMs: opts.timeoutMs })

  before(async () => {
    // The .deb build and the debootstrap are independent: side by side.
    const t0 = Date.now()
    const build = buildDeb().then((path) => {
      timings.build = Date.now() - t0
      return path
    })
    const strap = (suite === 'trixie'
      ? run('bash', [join(REPO, 'test/trixie/root.sh'), 'base'], { timeoutMs: 15 * 60_000 }).then((r) => run('cp', ['-a', r.stdout.trim(), root]))
      : run('debootstrap', ['--variant=minbase', suite, root, MIRROR], { timeoutMs: 15 * 60_000 })
    ).then(() => {
      timings.debootstrap = Date.now() - t0
    })
    ;[deb] = await Promise.all([build, strap])
    // No service of a package installed below may start on this machine's ports.
    writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n')
    chmodSync(join(root, 'usr/sbin/policy-rc.d'), 0o755)
    copyFileSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'))
    // Node, Dovecot and the stale-process checks read /proc.
    await run('mount', ['-t', 'proc', 'proc', join(root, 'proc')])
    const t1 = Date.now()
    if (suite === 'trixie') {
      // apt resolves the package's own Depends from Debian, as a user's
      // `apt install ./outpost_….deb` does; dpkg -i below then finds them met.
      await inRoot(['apt-get', 'update', '-q'], { timeoutMs: 10 * 60_000 })
      await inRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...debDepends(deb)], { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 15 * 60_000 })
    } else {
      await inRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'libstdc++6', 'dovecot-core', 'dovecot-imapd', 'dovecot-lmtpd', 'dovecot-sqlite', 'openssl', 'util-linux', 'systemd', 'passwd'], {
        env: { DEBIAN_FRONTEND: 'noninteractive' },
        timeoutMs: 15 * 60_000,
      })
      copyFileSync(await nodejsStandIn(work), join(root, 'tmp/nodejs.deb'))
      await inRoot(['dpkg', '-i', '/tmp/nodejs.deb'])
    }
    timings.aptDependencies = Date.now() - t1
    console.log(`# deb test timings (ms): ${JSON.stringify(timings)}`)
  })

  after(async () => {
    await Promise.allSettled(phones.map((p) => p.close()))
    await tearDownRoot(root, work, node)
  })

  it('is a well-formed package: control fields, maintainer scripts, files owned by root and not writable by others', async () => {
    const info = (await run('dpkg-deb', ['--info', deb])).stdout
    const arch = (await run('dpkg', ['--print-architecture'])).stdout.trim()
    const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string
    assert.match(info, /^ Package: outpost$/m)
    assert.match(info, new RegExp(`^ Version: ${version.replace(/\./g, '\\.')}$`, 'm'))
    assert.match(info, new RegExp(`^ Architecture: ${arch}$`, 'm'))
    assert.match(info, /^ Maintainer: .+ <.+@.+>$/m)
    assert.match(info, /^ Installed-Size: \d+$/m)
    const depends = /^ Depends: (.*)$/m.exec(info)?.[1] ?? ''
    for (const d of ['nodejs (>= 20.19)', 'dovecot-core', 'dovecot-imapd', 'dovecot-lmtpd', 'dovecot-sqlite', 'openssl', 'util-linux']) assert.ok(depends.includes(d), `Depends has ${d}: ${depends}`)
    // A description with a short line and a long one, as dpkg and apt show them.
    assert.match(info, /^ Description: .{10,80}\n {2}\S/m)
    for (const s of ['postinst', 'prerm', 'postrm']) {
      const text = (await run('dpkg-deb', ['--info', deb, s])).stdout
      assert.match(text, /^#!\/bin\/sh\n/, `${s} is a sh script`)
      assert.match(text, /^set -e$/m, `${s} stops at the first error`)
      // sh -n: the script parses.
      const f = join(work, s)
      writeFileSync(f, text)
      await run('sh', ['-n', f])
    }
    const contents = (await run('dpkg-deb', ['--contents', deb])).stdout.trim().split('\n')
    const entry = (path: string) => contents.find((l) => l.endsWith(` ./${path}`) || l.includes(` ./${path} -> `))
    for (const p of [
      'usr/lib/outpost/bin/outpost.mjs',
      'usr/lib/outpost/dist/server/cli/main.js',
      'usr/lib/outpost/dist/haraka-plugins/outpost-plugins.cjs',
      'usr/lib/outpost/server/db/migrations/0000_init.sql',
      'usr/lib/outpost/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'usr/lib/outpost/node_modules/Haraka/package.json',
      'usr/lib/systemd/system/outpost.service',
      'usr/lib/systemd/system/outpost-appliance.service',
      'usr/lib/systemd/system/outpost-usb@.service',
      'usr/lib/systemd/system/outpost-hotspot.service',
      'usr/lib/systemd/system/outpost-hotspot.path',
      'usr/lib/systemd/system/outpost-hotspot-mdns.service',
      'usr/share/doc/outpost/examples/sudoers-nncp',
      'usr/lib/sysusers.d/outpost.conf',
      'usr/lib/udev/rules.d/99-outpost-usb.rules',
      'usr/share/polkit-1/rules.d/50-outpost.rules',
      'usr/share/doc/outpost/copyright',
    ]) assert.ok(entry(p), `the package holds /${p}`)
    assert.match(entry('usr/bin/outpost') ?? '', /-> \.\.\/lib\/outpost\/bin\/outpost\.mjs$/)
    // Development dependencies stay out: they are most of node_modules.
    for (const dev of ['typescript', 'vite', '@deltachat/stdio-rpc-server-linux-x64', '@deltachat/stdio-rpc-server-linux-arm64', 'playwright-core', 'drizzle-kit']) {
      assert.ok(!entry(`usr/lib/outpost/node_modules/${dev}/package.json`), `${dev} (a development dependency) is not packed`)
    }
    for (const l of contents) {
      const [mode, owner] = l.split(/\s+/)
      assert.equal(owner, 'root/root', `owned by root: ${l}`)
      if (!mode!.startsWith('l')) assert.equal(mode![8], '-', `not writable by others: ${l}`)
    }
  })

  it('installs with dpkg: creates the outpost user and a node named after the machine, and enables the units', async () => {
    copyFileSync(deb, join(root, 'tmp/outpost.deb'))
    const t = Date.now()
    const r = await inRoot(['dpkg', '-i', '/tmp/outpost.deb'], { env: { OUTPOST_DOMAIN: DOMAIN } })
    timings.install = Date.now() - t
    const passwd = readFileSync(join(root, 'etc/passwd'), 'utf8')
    const user = passwd.split('\n').find((l) => l.startsWith('outpost:'))
    assert.ok(user, `the outpost user exists: ${r.stdout}`)
    const uid = Number(user!.split(':')[2])
    const toml = join(root, 'var/lib/outpost/outpost.toml')
    assert.ok(existsSync(toml), `outpost init ran: ${r.stdout}\n${r.stderr}`)
    assert.match(readFileSync(toml, 'utf8'), new RegExp(`domain = "${DOMAIN}"`))
    assert.equal(statSync(join(root, 'var/lib/outpost/outpost.db')).uid, uid, 'the database belongs to outpost')
    assert.equal(statSync(join(root, 'var/lib/outpost')).mode & 0o777, 0o750)
    // The box is claimed with a setup code only its owner sees: on the install's output, and in an owner-only file.
    const codeFile = join(root, 'var/lib/outpost/setup-code')
    assert.equal(statSync(codeFile).mode & 0o777, 0o600)
    assert.equal(statSync(codeFile).uid, uid, 'the node (outpost) can read its setup code')
    const code = readFileSync(codeFile, 'utf8').trim()
    assert.match(code, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/)
    assert.ok(r.stdout.includes(`outpost: web admin setup code: ${code}`), r.stdout)
    for (const u of ['outpost.service', 'outpost-appliance.service', 'outpost-hotspot.service', 'outpost-hotspot.path']) {
      assert.ok(linkIn(root, `etc/systemd/system/multi-user.target.wants/${u}`), `${u} is enabled`)
    }
    assert.ok(!linkIn(root, 'etc/systemd/system/multi-user.target.wants/dovecot.service'), "Debian's own Dovecot is disabled: it would take the IMAP ports")
  })

  it('runs as the outpost user from the installed files: the health endpoint answers', async () => {
    const ports = { SUBMISSION: await freePort(), SMTPS: await freePort(), IMAP: await freePort(), IMAPS: await freePort(), WEB: await freePort() }
    webPort = ports.WEB
    // The unit's command, with high loopback ports so as not to meet other services of this machine.
    env = {
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [`OUTPOST_PORTS_${k}`, String(v)])),
      OUTPOST_LISTEN_ADDRESS: '127.0.0.1',
      OUTPOST_NODE_HOST: '127.0.0.1',
      OUTPOST_LISTEN_MDNS: 'false',
    }
    const args = ['--userspec=outpost:outpost', root, '/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/var/lib/outpost', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), '/usr/bin/node', '--max-semi-space-size=2', '--no-opt', '--no-sparkplug', '--max-lazy', '--optimize-for-size', '/usr/lib/outpost/bin/outpost.mjs', 'start', '--data', '/var/lib/outpost']
    node = spawn('chroot', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const ready = new Promise<void>((resolve, reject) => {
      const seen = (chunk: Buffer) => {
        nodeLog += chunk.toString()
        if (nodeLog.includes('outpost ready:')) resolve()
      }
      node!.stdout!.on('data', seen)
      node!.stderr!.on('data', seen)
      node!.once('exit', (code) => reject(new Error(`the installed node exited (${code}) before it was ready:\n${nodeLog}`)))
    })
    await Promise.race([ready, new Promise((_, reject) => setTimeout(() => reject(new Error(`not ready in 60 s:\n${nodeLog}`)), 60_000))])
    const h = await health(webPort)
    assert.equal(h.status, 200)
    assert.equal(h.body.status, 'ok', JSON.stringify(h.body))
    // The package carries the built web admin: the landing page loads its script.
    const page = await get(webPort, '/')
    assert.equal(page.status, 200)
    assert.match(page.text, /<script type="module"[^>]* src="\/assets\/[^"]+\.js"/)
  })

  it("two Delta Chat clients configured from the installed node's QR codes send and receive", async () => {
    const uris: string[] = []
    for (const name of ['alice', 'bob']) {
      await inRoot(['/usr/bin/outpost', 'account', 'add', `${name}@${DOMAIN}`, '--data', '/var/lib/outpost'], { user: 'outpost', env })
      const qr = await inRoot(['/usr/bin/outpost', 'account', 'qr', `${name}@${DOMAIN}`, '--uri', '--data', '/var/lib/outpost'], { user: 'outpost', env })
      uris.push(qr.stdout.trim())
    }
    assert.match(uris[0]!, new RegExp(`^dclogin:alice@${DOMAIN.replace('.', '\\.')}\\?.*ih=127\\.0\\.0\\.1`))
    const alice = await Phone.start('alice')
    phones.push(alice)
    const bob = await Phone.start('bob')
    phones.push(bob)
    assert.equal(await alice.addAccountFromQr(uris[0]!), `alice@${DOMAIN}`)
    assert.equal(await bob.addAccountFromQr(uris[1]!), `bob@${DOMAIN}`)
    const chat = await secureJoin(alice, bob, WAIT_MS)
    const hello = `hello from the installed box ${Date.now()}`
    const sinceBob = bob.mark()
    await alice.sendText(chat.inviterChatId, hello)
    const got = await bob.waitForIncoming((m) => m.text === hello, WAIT_MS, sinceBob)
    assert.equal(got.message.showPadlock, true)
    const reply = `bob answers ${Date.now()}`
    const sinceAlice = alice.mark()
    await bob.sendText(chat.joinerChatId, reply)
    const back = await alice.waitForIncoming((m) => m.text === reply, WAIT_MS, sinceAlice)
    assert.equal(back.message.sender.address, `bob@${DOMAIN}`)
    await Promise.all(phones.splice(0).map((p) => p.close()))
  })

  it('dpkg -r keeps the data and the user; dpkg --purge removes both', async () => {
    node!.kill('SIGTERM')
    await new Promise<void>((resolve) => (node!.exitCode !== null || node!.signalCode !== null ? resolve() : node!.once('exit', () => resolve())))
    assert.match(nodeLog, /stopped/)
    assert.deepEqual(processesIn(root), [], 'no Dovecot or Haraka outlives the node')
    await inRoot(['dpkg', '-r', 'outpost'])
    assert.ok(!existsSync(join(root, 'usr/lib/outpost/bin/outpost.mjs')), 'the program is gone')
    assert.ok(existsSync(join(root, 'var/lib/outpost/outpost.db')), 'the mail, accounts and keys are kept')
    assert.match(readFileSync(join(root, 'etc/passwd'), 'utf8'), /^outpost:/m)
    await inRoot(['dpkg', '--purge', 'outpost'])
    assert.ok(!existsSync(join(root, 'var/lib/outpost')), 'purge deletes the data dir')
    assert.doesNotMatch(readFileSync(join(root, 'etc/passwd'), 'utf8'), /^outpost:/m, 'and the user')
    assert.ok(!linkIn(root, 'etc/systemd/system/multi-user.target.wants/outpost.service'), 'and the enablement')
    console.log(`# deb test timings (ms): ${JSON.stringify(timings)}`)
  })
})
