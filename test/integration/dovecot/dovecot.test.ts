// The real Dovecot, started from the generated config on loopback high ports,
// with an account made by AccountService in a real database. Run as root, it
// runs the scenario twice: root mode, and non-root mode as "nobody" (the
// appliance's normal way). Run as another user, only non-root mode.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync, existsSync, readdirSync, readFileSync, chmodSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { nodePaths, type NodePaths } from '../../../server/base/paths.js'
import { defaults, type NodeConfig } from '../../../server/config/schema.js'
import { openDb, type Db } from '../../../server/db/index.js'
import { AccountService } from '../../../server/accounts/service.js'
import { exec, execOk, type Exec } from '../../../server/base/exec.js'
import { renderDovecotConf, dovecotInstanceName, type DovecotUser, type DovecotVersion } from '../../../server/dovecot/config.js'
import {
  checkDovecotInstalled,
  prepareDovecotDirs,
  writeDovecotConf,
  validateDovecotConf,
  dovecotSpawnArgs,
  stopStaleDovecot,
  endDovecotStragglers,
  expungeExpired,
} from '../../../server/dovecot/process.js'
import { LMTP_SESSIONS } from '../../../server/delivery/lmtp.js'
import { waitFor } from '../../helpers/wait.js'
import { freePort } from '../../helpers/ports.js'

const DOMAIN = 'camp.test'
const ALICE = { address: `alice@${DOMAIN}`, password: 'correct-horse-battery' }
const isRoot = process.getuid?.() === 0


const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })

/** Talks a line protocol: send a command, wait until `done` says the reply is complete. */
class LineClient {
  private buf = ''
  private waiter?: () => void
  constructor(readonly sock: Socket) {
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => { this.buf += d; this.waiter?.() })
  }
  async read(done: (text: string) => boolean, ms = 5000): Promise<string> {
    const until = Date.now() + ms
    while (!done(this.buf)) {
      if (Date.now() > until) throw new Error(`no complete reply, got: ${JSON.stringify(this.buf)}`)
      await new Promise<void>((r) => { this.waiter = r; setTimeout(r, 100) })
    }
    const out = this.buf
    this.buf = ''
    return out
  }
  async send(line: string, done: (text: string) => boolean, ms?: number): Promise<string> {
    this.sock.write(line + '\r\n')
    return this.read(done, ms)
  }
}

/** LMTP replies end with a line "NNN " (no dash); `n` such lines for n recipients after DATA. */
const lmtpLines = (n = 1) => (t: string) => t.split('\r\n').filter((l) => /^\d{3} /.test(l)).length >= n

async function lmtpConnect(path: string): Promise<LineClient> {
  const sock = connect(path)
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
  const c = new LineClient(sock)
  await c.read(lmtpLines())
  return c
}

function imapClient(port: number, password: string): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    doSTARTTLS: true,
    auth: { user: ALICE.address, pass: password },
    tls: { rejectUnauthorized: false },
    logger: false,
  })
}

/** An Exec that runs binaries as another user (non-root mode when the test runs as root). */
function execAs(user: DovecotUser | undefined): Exec {
  if (!user) return exec
  return (file, args, opts) => exec('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', file, ...args], opts)
}

function messageFiles(paths: NodePaths, local: string): string[] {
  const box = join(paths.mail, DOMAIN, local, 'Maildir')
  return ['new', 'cur'].flatMap((d) => (existsSync(join(box, d)) ? readdirSync(join(box, d)).map((f) => join(box, d, f)) : []))
}

async function pgrep(pattern: string): Promise<string> {
  return new Promise((resolve) => execFile('pgrep', ['-af', pattern], (_err, stdout) => resolve(stdout.trim())))
}

interface Node {
  dir: string
  paths: NodePaths
  config: NodeConfig
  db: Db
  accounts: AccountService
  child?: ChildProcess
  run: Exec
}

const nodes: Node[] = []
/** Every data dir made, removed at the end even when a node failed to start. */
const dirs: string[] = []

async function nobody(): Promise<DovecotUser> {
  const id = async (flag: string) => (await execOk(exec, 'id', [flag, 'nobody'])).trim()
  return { name: 'nobody', group: await id('-gn'), uid: Number(await id('-u')), gid: Number(await id('-g')) }
}

async function self(): Promise<DovecotUser> {
  const u = userInfo()
  return { name: u.username, group: (await execOk(exec, 'id', ['-gn'])).trim(), uid: u.uid, gid: u.gid }
}

async function startNode(mode: 'root' | 'user'): Promise<Node> {
  // Short: the LMTP socket path must stay under 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'op-'))
  dirs.push(dir)
  const paths = nodePaths(dir)
  const config = defaults(DOMAIN, { root: false })
  config.listen.address = '127.0.0.1'
  config.ports.imap = await freePort()
  config.ports.imaps = await freePort()

  // As root, the mail user is "nobody" in both modes; in non-root mode
  // Dovecot itself then runs as nobody too, through setpriv.
  const user = isRoot ? await nobody() : await self()
  const dropTo = isRoot && mode === 'user' ? user : undefined
  const run = execAs(dropTo)

  prepareDovecotDirs(paths, mode === 'root' ? user : undefined)
  mkdirSync(paths.tlsDir, { recursive: true })
  await execOk(exec, 'openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650',
    '-subj', `/CN=${DOMAIN}`, '-keyout', paths.tlsKey, '-out', paths.tlsCert,
  ])
  const db = openDb(paths.db)
  const accounts = new AccountService(db, [DOMAIN])
  await accounts.add(ALICE.address, ALICE.password)

  writeDovecotConf(paths, renderDovecotConf({ version, config, paths, user, root: mode === 'root' }))
  // mkdtemp makes the dir 0700; mail processes running as the mail user must get in.
  chmodSync(dir, 0o755)
  if (dropTo) {
    // Not as root, the user must own everything of the instance.
    await execOk(exec, 'chown', ['-R', `${dropTo.uid}:${dropTo.gid}`, dir])
  }
  await validateDovecotConf(run, paths.dovecotConf)
  assert.deepEqual(await stopStaleDovecot(paths), { master: undefined, stragglers: [] }, 'nothing stale in a fresh data dir')

  const { command, args } = dovecotSpawnArgs(paths)
  const argv = dropTo ? ['setpriv', [`--reuid=${dropTo.uid}`, `--regid=${dropTo.gid}`, '--clear-groups', command, ...args]] as const : [command, args] as const
  const child = spawn(argv[0], [...argv[1]], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (d) => (output += d))
  child.stderr?.on('data', (d) => (output += d))
  const node: Node = { dir, paths, config, db, accounts, child, run }
  nodes.push(node)
  await waitFor('Dovecot to listen', async () => {
    if (child.exitCode !== null) throw new Error(`dovecot exited with ${child.exitCode}: ${output}`)
    return existsSync(paths.lmtpSocket) && (await canConnect(config.ports.imap))
  })
  return node
}

async function stopNode(node: Node): Promise<void> {
  const child = node.child
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
  node.child = undefined
}

after(async () => {
  for (const node of nodes) {
    await stopNode(node)
    await stopStaleDovecot(node.paths).catch(() => undefined)
    node.db.$client.close()
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** The installed Dovecot's version, which the config is rendered for (as the node does at start). */
let version: DovecotVersion

before(async () => {
  version = (await checkDovecotInstalled(exec)).version
})

for (const mode of isRoot ? (['root', 'user'] as const) : (['user'] as const)) {
  const label = mode === 'root' ? 'as root' : 'without root'

  test(`Dovecot ${label}: IMAP, LMTP, expiry, clean stop`, async (t) => {
    const node = await startNode(mode)
    const { paths, config } = node

    await t.test('IMAP login over STARTTLS with the right password works and announces IDLE and XCHATMAIL', async () => {
      const client = imapClient(config.ports.imap, ALICE.password)
      await client.connect()
      try {
        assert.ok(client.secureConnection || client.tls, 'the session runs over TLS')
        assert.ok(client.capabilities.has('IDLE'), 'IDLE')
        assert.ok(client.capabilities.has('XCHATMAIL'), 'XCHATMAIL')
        assert.ok(client.capabilities.has('QUOTA'), 'QUOTA')
      } finally {
        await client.logout()
      }
    })

    await t.test('LMTP stores mail for a known recipient, refuses an unknown one with 550, and IDLE tells the client', async () => {
      const client = imapClient(config.ports.imap, ALICE.password)
      await client.connect()
      await client.mailboxOpen('INBOX')
      // Deliver only once the client is in IDLE, as Delta Chat is while it waits.
      // idle() resolves only when IDLE is broken; logout below does that.
      client.idle().catch(() => undefined)
      await waitFor('the client to IDLE', () => client.idling)
      const exists = new Promise<number>((resolve) => client.on('exists', (e: { count: number }) => resolve(e.count)))
      try {
        const lmtp = await lmtpConnect(paths.lmtpSocket)
        assert.match(await lmtp.send('LHLO haraka.test', lmtpLines()), /^250 /m)
        assert.match(await lmtp.send('MAIL FROM:<bob@elsewhere.test>', lmtpLines()), /^250 /)
        assert.match(await lmtp.send(`RCPT TO:<${ALICE.address}>`, lmtpLines()), /^250 /)
        assert.match(await lmtp.send(`RCPT TO:<nobody-here@${DOMAIN}>`, lmtpLines()), /^550 5\.1\.1 /)
        assert.match(await lmtp.send('DATA', lmtpLines()), /^354 /)
        // One reply per accepted recipient: this is what Haraka maps back to each RCPT.
        const reply = await lmtp.send(`From: bob@elsewhere.test\r\nTo: ${ALICE.address}\r\nSubject: outpost-lmtp-test\r\n\r\nhello\r\n.`, lmtpLines(1))
        assert.match(reply, /^250 2\.0\.0 <alice@camp\.test> .*Saved/)
        lmtp.sock.end('QUIT\r\n')

        const files = messageFiles(paths, 'alice')
        assert.equal(files.length, 1, 'one message file in the Maildir')
        assert.match(readFileSync(files[0]!, 'utf8'), /Subject: outpost-lmtp-test/)
        assert.equal(messageFiles(paths, 'nobody-here').length, 0)

        const count = await Promise.race([exists, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('no EXISTS within 5 s of delivery')), 5000))])
        assert.equal(count, 1)
      } finally {
        await client.logout()
      }
    })

    await t.test('a burst of LMTP sessions, twice what one node process opens, all deliver, and each LMTP process ends with its session', async () => {
      // An account of its own, so that the later tests still count alice's one message.
      const burst = `burst@${DOMAIN}`
      await node.accounts.add(burst, 'burst-horse-battery')
      const n = 2 * LMTP_SESSIONS
      // Generous bounds: on a busy machine Dovecot starts a process for every session of the burst.
      const ms = 30_000
      const delivered = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const lmtp = await lmtpConnect(paths.lmtpSocket)
          try {
            assert.match(await lmtp.send('LHLO haraka.test', lmtpLines(), ms), /^250 /m)
            assert.match(await lmtp.send('MAIL FROM:<bob@elsewhere.test>', lmtpLines(), ms), /^250 /)
            assert.match(await lmtp.send(`RCPT TO:<${burst}>`, lmtpLines(), ms), /^250 /)
            assert.match(await lmtp.send('DATA', lmtpLines(), ms), /^354 /)
            return await lmtp.send(`From: bob@elsewhere.test\r\nTo: ${burst}\r\nSubject: burst ${i}\r\n\r\nhello\r\n.`, lmtpLines(1), ms)
          } finally {
            lmtp.sock.end('QUIT\r\n')
          }
        }),
      )
      for (const reply of delivered) assert.match(reply, /^250 2\.0\.0 <burst@camp\.test> .*Saved/)
      assert.equal(messageFiles(paths, 'burst').length, n, 'every message of the burst is in the Maildir')
      // restart_request_count = 1 (2.3: service_count): no LMTP process outlives its session.
      const lmtpProcesses = async () => (await pgrep(`${dovecotInstanceName(paths)}/lmtp`)).split('\n').filter(Boolean)
      await waitFor('every LMTP process to end after its session', async () => (await lmtpProcesses()).length === 0, {
        timeoutMs: 5000,
        explain: async () => (await lmtpProcesses()).join('\n'),
      })
    })

    await t.test('LOGIN before STARTTLS is refused, even from loopback', async () => {
      const sock = connect(config.ports.imap, '127.0.0.1')
      await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
      try {
        const imap = new LineClient(sock)
        await imap.read((t) => t.includes('\r\n'))
        // Dovecot delays every failed login by 2 s (auth_failure_delay).
        const reply = await imap.send(`a1 LOGIN ${ALICE.address} ${ALICE.password}`, (t) => /^a1 /m.test(t), 15_000)
        assert.match(reply, /^a1 NO /m)
      } finally {
        sock.destroy()
      }
    })

    // After this, Dovecot's anvil delays further logins from 127.0.0.1 by some seconds.
    await t.test('a wrong password is refused', async () => {
      const client = imapClient(config.ports.imap, 'wrong-password-123')
      await assert.rejects(client.connect())
      client.close()
    })

    // Dovecot's own account of the limit, the one IMAP GETQUOTAROOT reports
    // (2.3 and 2.4 name the userdb field differently: quota_rule, quota_storage_size).
    const quotaLimitKb = async () => {
      const out = await execOk(node.run, 'doveadm', ['-c', paths.dovecotConf, '-f', 'tab', 'quota', 'get', '-u', ALICE.address])
      const [head, ...rows] = out.trim().split('\n').map((l) => l.split('\t'))
      const storage = rows.find((r) => r[head!.indexOf('Type')] === 'STORAGE')
      return storage?.[head!.indexOf('Limit')]
    }

    await t.test('an account without a quota of its own gets mail.quota_mb', async () => {
      assert.equal(await quotaLimitKb(), String(config.mail.quota_mb * 1024))
    })

    await t.test('an account with its own quota gets it', async () => {
      node.db.$client.prepare('UPDATE accounts SET quota_mb = 7 WHERE address = ?').run(ALICE.address)
      assert.equal(await quotaLimitKb(), String(7 * 1024))
    })

    await t.test('mail that does not fit the account\'s quota is refused with 552 and not stored', async () => {
      node.db.$client.prepare('UPDATE accounts SET quota_mb = 1 WHERE address = ?').run(ALICE.address)
      const before = messageFiles(paths, 'alice').length
      const lmtp = await lmtpConnect(paths.lmtpSocket)
      try {
        await lmtp.send('LHLO haraka.test', lmtpLines())
        await lmtp.send('MAIL FROM:<bob@elsewhere.test>', lmtpLines())
        assert.match(await lmtp.send(`RCPT TO:<${ALICE.address}>`, lmtpLines()), /^250 /)
        assert.match(await lmtp.send('DATA', lmtpLines()), /^354 /)
        // 12 MB against a 1 MB quota: past the grace that lets a last message
        // in over the limit (2.3: 10 % of it, 2.4: 10 MB).
        const body = ('x'.repeat(998) + '\r\n').repeat(12 * 1024)
        const reply = await lmtp.send(`From: bob@elsewhere.test\r\nTo: ${ALICE.address}\r\nSubject: too big\r\n\r\n${body}.`, lmtpLines(1), 15_000)
        assert.match(reply, /^552 5\.2\.2 <alice@camp\.test> .*[Qq]uota/m)
      } finally {
        lmtp.sock.end('QUIT\r\n')
      }
      assert.equal(messageFiles(paths, 'alice').length, before, 'nothing stored')
      node.db.$client.prepare('UPDATE accounts SET quota_mb = 7 WHERE address = ?').run(ALICE.address)
    })

    await t.test('expungeExpired runs and keeps young mail', async () => {
      await expungeExpired(node.run, paths, config, Date.now())
      assert.equal(messageFiles(paths, 'alice').length, 1)
      // A node clock a year behind the save date deletes nothing either.
      await expungeExpired(node.run, paths, config, Date.now() - 365 * 86_400_000)
      assert.equal(messageFiles(paths, 'alice').length, 1)
    })

    await t.test('expiry counts from the node clock it is given, not from the wall clock', async () => {
      // 21 days on the node's clock: past expiry_days (20), so Dovecot
      // expunges the mail although the wall clock says it was saved today.
      await expungeExpired(node.run, paths, config, Date.now() + 21 * 86_400_000)
      assert.equal(messageFiles(paths, 'alice').length, 0)
    })

    await t.test('stopping leaves no Dovecot process behind, even with a client connected', async () => {
      // A phone that has connected but not logged in yet keeps its login
      // process (and auth, log, ...) alive after the master stops.
      const phone = connect(config.ports.imap, '127.0.0.1')
      await new Promise<void>((resolve, reject) => { phone.once('data', () => resolve()); phone.once('error', reject) })
      try {
        await stopNode(node)
        assert.equal(await canConnect(config.ports.imap), false, 'the IMAP port is free once the master is gone')
        const ended = await endDovecotStragglers(paths)
        assert.ok(ended.length > 0, 'the lingering login process was found')
        assert.equal(await pgrep(dovecotInstanceName(paths)), '')
        assert.equal(await pgrep(paths.dovecotConf), '')
      } finally {
        phone.destroy()
      }
    })

    await t.test('a Dovecot orphaned by a crash is found and stopped', async () => {
      // As after kill -9 of the node: a master nobody supervises, with master.pid left behind.
      const { command, args } = dovecotSpawnArgs(paths)
      const argv = mode === 'user' && isRoot ? ['setpriv', `--reuid=${(await nobody()).uid}`, `--regid=${(await nobody()).gid}`, '--clear-groups', command, ...args] : [command, ...args]
      const orphan = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true })
      orphan.unref()
      await waitFor('the orphan to listen', () => existsSync(join(paths.dovecotBase, 'master.pid')) && existsSync(paths.lmtpSocket))
      await waitFor('the orphan to listen', () => canConnect(config.ports.imap))
      const { master } = await stopStaleDovecot(paths)
      assert.equal(master, orphan.pid)
      await waitFor('Dovecot processes to exit', async () => (await pgrep(dovecotInstanceName(paths))) === '', { timeoutMs: 5000, explain: () => pgrep(dovecotInstanceName(paths)) })
      assert.equal(await pgrep(paths.dovecotConf), '')
      assert.equal(await canConnect(config.ports.imap), false, 'the IMAP port is free again')
    })
  })
}
