// Real Haraka, run from the rendered config with our built plugins, in front
// of a real Dovecot (LMTP) when one is installed, else the test's own LMTP
// server. Every refusal is checked by its SMTP code and by what a user would
// notice: nothing in the recipient's mailbox and nothing in Haraka's queue.
//
// Needs `npm run build` first (the plugins are loaded from dist/).
//
// OUTPOST_SMTP_HARAKA=in-process hosts Haraka inside this test's process
// (server/haraka/host.ts) instead of spawning it; the tests of the child's
// own life (pid file, IPC, stale children) are skipped then.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { nodePaths, type NodePaths } from '../../../server/base/paths.js'
import { defaults, type NodeConfig } from '../../../server/config/schema.js'
import { openDb, type Db } from '../../../server/db/index.js'
import { AccountService } from '../../../server/accounts/service.js'
import { exec, execOk } from '../../../server/base/exec.js'
import { appRoot } from '../../../server/base/app-root.js'
import { harakaPidFile, harakaSpawnArgs, renderHarakaConfig, stopStaleHaraka, writeHarakaConfig } from '../../../server/haraka/process.js'
import { hostHaraka, type HostedHaraka } from '../../../server/haraka/host.js'
import { renderDovecotConf, type DovecotUser } from '../../../server/dovecot/config.js'
import { checkDovecotInstalled, dovecotSpawnArgs, prepareDovecotDirs, stopStaleDovecot, validateDovecotConf, writeDovecotConf } from '../../../server/dovecot/process.js'
import { freePort } from '../../helpers/ports.js'
import { isAlive, processTree, waitAllGone } from '../../helpers/procs.js'
import { FakeLmtp } from '../../helpers/fake-lmtp.js'
import { waitFor } from '../../helpers/wait.js'

const DOMAIN = 'camp.test'
const ALICE = { address: `alice@${DOMAIN}`, password: 'alice-password-1' }
const BOB = { address: `bob@${DOMAIN}`, password: 'bob-password-11' }
const CAROL = { address: `carol@${DOMAIN}`, password: 'carol-password-1' }
const MAX_BYTES = 64 * 1024
const BURST = 8
const isRoot = process.getuid?.() === 0
const IN_PROCESS = process.env.OUTPOST_SMTP_HARAKA === 'in-process'
const CHILD_ONLY = { skip: IN_PROCESS ? 'about a Haraka child process' : false }

interface Reply {
  code: number
  text: string
}

/** A raw SMTP dialogue, so every reply code can be checked where it is given. */
class Smtp {
  private buf = ''
  private waiter: (() => void) | undefined
  private closed = false

  private constructor(private sock: Socket | TLSSocket) {
    this.attach(sock)
  }

  private attach(sock: Socket | TLSSocket): void {
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      this.buf += d
      this.waiter?.()
    })
    sock.on('close', () => {
      this.closed = true
      this.waiter?.()
    })
    sock.on('error', () => undefined)
  }

  static async open(port: number, implicitTls = false): Promise<Smtp> {
    const sock = implicitTls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : netConnect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      sock.once(implicitTls ? 'secureConnect' : 'connect', () => resolve())
      sock.once('error', reject)
    })
    const s = new Smtp(sock)
    const greeting = await s.read()
    assert.equal(greeting.code, 220, greeting.text)
    return s
  }

  async read(ms = 15_000): Promise<Reply> {
    const until = Date.now() + ms
    for (;;) {
      const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(this.buf)
      if (m) {
        const end = m.index + m[0].length
        const text = this.buf.slice(0, end)
        this.buf = this.buf.slice(end)
        return { code: Number(m[1]), text: text.trim() }
      }
      if (this.closed) throw new Error(`connection closed; got ${JSON.stringify(this.buf)}`)
      if (Date.now() > until) throw new Error(`no reply within ${ms} ms; got ${JSON.stringify(this.buf)}`)
      await new Promise<void>((r) => {
        this.waiter = r
        setTimeout(r, 50)
      })
    }
  }

  async cmd(line: string): Promise<Reply> {
    this.sock.write(`${line}\r\n`)
    return this.read()
  }

  async startTls(): Promise<void> {
    const r = await this.cmd('STARTTLS')
    assert.equal(r.code, 220, r.text)
    const plain = this.sock
    plain.removeAllListeners('data')
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false })
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve())
      secure.once('error', reject)
    })
    this.sock = secure
    this.attach(secure)
  }

  async login(who: { address: string; password: string }): Promise<Reply> {
    return this.cmd(`AUTH PLAIN ${Buffer.from(`\0${who.address}\0${who.password}`).toString('base64')}`)
  }

  /** DATA with the message (dot-stuffed here); returns the reply to DATA, or to the final dot. */
  async data(message: string): Promise<Reply> {
    const r = await this.cmd('DATA')
    if (r.code !== 354) return r
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')
    this.sock.write(`${body.endsWith('\r\n') ? body : `${body}\r\n`}.\r\n`)
    return this.read()
  }

  close(): void {
    this.sock.end('QUIT\r\n')
    setTimeout(() => this.sock.destroy(), 500).unref()
  }
}

/** A session on the STARTTLS port, after STARTTLS, EHLO and (optionally) AUTH. */
async function session(who?: { address: string; password: string }): Promise<Smtp> {
  const s = await Smtp.open(node.config.ports.submission)
  assert.equal((await s.cmd('EHLO phone.test')).code, 250)
  await s.startTls()
  assert.equal((await s.cmd('EHLO phone.test')).code, 250)
  if (who) {
    const r = await s.login(who)
    assert.equal(r.code, 235, r.text)
  }
  return s
}

let seq = 0
function message(from: string, to: string, opts: { subject?: string; body?: string; fromHeader?: string } = {}): { id: string; text: string } {
  const id = `<t${++seq}.${Date.now()}@${DOMAIN}>`
  const text = [
    `From: ${opts.fromHeader ?? from}`,
    `To: ${to}`,
    `Subject: ${opts.subject ?? `test ${seq}`}`,
    `Message-ID: ${id}`,
    '',
    opts.body ?? 'hello',
    '',
  ].join('\r\n')
  return { id, text }
}

interface TestNode {
  dir: string
  paths: NodePaths
  config: NodeConfig
  db: Db
  haraka?: ChildProcess
  hosted?: HostedHaraka
  harakaOutput: string
  dovecot?: ChildProcess
  fakeLmtp?: FakeLmtp
}

let node: TestNode

/** Messages stored for a local account, as their raw text. */
function stored(address: string): string[] {
  if (node.fakeLmtp) return node.fakeLmtp.stored.filter((s) => s.recipient === address).map((s) => s.data)
  const [local, domain] = address.split('@') as [string, string]
  const box = join(node.paths.mail, domain, local, 'Maildir')
  return ['new', 'cur'].flatMap((d) => (existsSync(join(box, d)) ? readdirSync(join(box, d)).map((f) => readFileSync(join(box, d, f), 'latin1')) : []))
}

const storedWith = (address: string, id: string) => stored(address).filter((m) => m.includes(id)).length

function queueFiles(): string[] {
  return readdirSync(node.paths.harakaQueue)
}


async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function dovecotInstalled(): Promise<boolean> {
  try {
    return (await exec('dovecot', ['--version'])).code === 0
  } catch {
    return false
  }
}

async function startDovecot(n: TestNode): Promise<void> {
  const id = async (flag: string, who?: string) => (await execOk(exec, 'id', who ? [flag, who] : [flag])).trim()
  const user: DovecotUser = isRoot
    ? { name: 'nobody', group: await id('-gn', 'nobody'), uid: Number(await id('-u', 'nobody')), gid: Number(await id('-g', 'nobody')) }
    : { name: userInfo().username, group: await id('-gn'), uid: userInfo().uid, gid: userInfo().gid }
  prepareDovecotDirs(n.paths, isRoot ? user : undefined)
  const { version } = await checkDovecotInstalled(exec)
  writeDovecotConf(n.paths, renderDovecotConf({ version, config: n.config, paths: n.paths, user, root: isRoot }))
  await validateDovecotConf(exec, n.paths.dovecotConf)
  const { command, args } = dovecotSpawnArgs(n.paths)
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (d) => (out += d))
  child.stderr?.on('data', (d) => (out += d))
  n.dovecot = child
  await waitFor('Dovecot to listen on LMTP', () => {
    if (child.exitCode !== null) throw new Error(`dovecot exited with ${child.exitCode}: ${out}`)
    return existsSync(n.paths.lmtpSocket)
  })
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

before(async () => {
  // Short: the LMTP socket path must stay under 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'oh-'))
  chmodSync(dir, 0o755)
  const paths = nodePaths(dir)
  const config = defaults(DOMAIN, { root: false })
  config.listen.address = '127.0.0.1'
  config.ports.submission = await freePort()
  config.ports.smtps = await freePort()
  config.ports.imap = await freePort()
  config.ports.imaps = await freePort()
  config.limits.max_message_bytes = MAX_BYTES
  config.limits.send_burst = BURST
  config.limits.send_per_minute = 1
  mkdirSync(paths.tlsDir, { recursive: true })
  await execOk(exec, 'openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=x', '-keyout', paths.tlsKey, '-out', paths.tlsCert])
  const db = openDb(paths.db)
  const accounts = new AccountService(db, [DOMAIN])
  for (const a of [ALICE, BOB, CAROL]) await accounts.add(a.address, a.password)
  node = { dir, paths, config, db, harakaOutput: '' }

  // OUTPOST_TEST_FAKE_LMTP=1 runs against the test's own LMTP server even where Dovecot is installed.
  if (!process.env.OUTPOST_TEST_FAKE_LMTP && (await dovecotInstalled())) await startDovecot(node)
  else {
    mkdirSync(join(paths.run, 'dovecot'), { recursive: true })
    node.fakeLmtp = await new FakeLmtp(paths.lmtpSocket).listen()
  }

  const pluginDir = join(appRoot(), 'dist/haraka-plugins')
  assert.ok(existsSync(join(pluginDir, 'outpost_deliver/index.cjs')), 'the plugins are built: run `npm run build` first')
  writeHarakaConfig(paths, renderHarakaConfig({ config, paths, pluginDir }))
  assert.deepEqual(await stopStaleHaraka(paths), [], 'nothing stale in a fresh data dir')
  if (IN_PROCESS) {
    const logFile = join(paths.log, 'haraka.out.log')
    // Haraka's lines go to its log file, not to a pipe: read it whenever a test looks.
    Object.defineProperty(node, 'harakaOutput', { get: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') })
    node.hosted = await hostHaraka({ harakaDir: paths.harakaDir, logFile, log: (l) => console.error(l), onFatal: (why) => assert.fail(why) })
    return
  }
  const { command, args, env } = harakaSpawnArgs(paths)
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  child.stdout?.on('data', (d) => (node.harakaOutput += d))
  child.stderr?.on('data', (d) => (node.harakaOutput += d))
  node.haraka = child
  await waitFor('Haraka to listen', async () => {
    if (child.exitCode !== null) throw new Error(`haraka exited with ${child.exitCode}: ${node.harakaOutput}`)
    return (await canConnect(config.ports.submission)) && (await canConnect(config.ports.smtps))
  })
})

after(async () => {
  if (!node) return
  if (process.env.OUTPOST_TEST_VERBOSE) console.error(node.harakaOutput)
  const pids = node.haraka?.pid ? processTree(node.haraka.pid) : []
  await node.hosted?.stop()
  await stopChild(node.haraka)
  await stopStaleHaraka(node.paths)
  await stopChild(node.dovecot)
  await stopStaleDovecot(node.paths).catch(() => undefined)
  await node.fakeLmtp?.close()
  node.db.$client.close()
  assert.deepEqual(await waitAllGone(pids), [], 'no Haraka process is left behind')
  rmSync(node.dir, { recursive: true, force: true })
})

test('Haraka records its pid', CHILD_ONLY, () => {
  assert.equal(readFileSync(harakaPidFile(node.paths), 'utf8').trim(), String(node.haraka!.pid))
})

test('happy path over STARTTLS: 250 only once the message is in the mailbox', async () => {
  const s = await session(ALICE)
  try {
    const m = message(ALICE.address, BOB.address)
    assert.equal((await s.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 250)
    assert.equal((await s.cmd(`RCPT TO:<${BOB.address}>`)).code, 250)
    const r = await s.data(m.text)
    assert.equal(r.code, 250, r.text)
    // Checked at once: the 250 came after LMTP stored it, not before.
    assert.equal(storedWith(BOB.address, m.id), 1)
    assert.deepEqual(queueFiles(), [])
  } finally {
    s.close()
  }
})

test('happy path over implicit TLS, to two recipients in one message', async () => {
  const s = await Smtp.open(node.config.ports.smtps, true)
  try {
    const ehlo = await s.cmd('EHLO phone.test')
    assert.match(ehlo.text, /AUTH PLAIN LOGIN/)
    assert.match(ehlo.text, new RegExp(`SIZE ${MAX_BYTES}`))
    assert.equal((await s.login(ALICE)).code, 235)
    const m = message(ALICE.address, `${BOB.address}, ${CAROL.address}`)
    assert.equal((await s.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 250)
    assert.equal((await s.cmd(`RCPT TO:<${BOB.address}>`)).code, 250)
    assert.equal((await s.cmd(`RCPT TO:<${CAROL.address}>`)).code, 250)
    assert.equal((await s.data(m.text)).code, 250)
    assert.equal(storedWith(BOB.address, m.id), 1)
    assert.equal(storedWith(CAROL.address, m.id), 1)
  } finally {
    s.close()
  }
})

test('AUTH is not offered before STARTTLS, and refused with 538 when tried anyway', async () => {
  const s = await Smtp.open(node.config.ports.submission)
  try {
    const ehlo = await s.cmd('EHLO phone.test')
    assert.match(ehlo.text, /STARTTLS/)
    assert.doesNotMatch(ehlo.text, /AUTH/)
    const r = await s.login(ALICE)
    assert.equal(r.code, 538, r.text)
    assert.match(r.text, /5\.7\.11/)
    // And the refused AUTH left the session unauthenticated.
    assert.equal((await s.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 530)
  } finally {
    s.close()
  }
})

test('a wrong password is refused with 535', async () => {
  const s = await session()
  try {
    const r = await s.login({ address: ALICE.address, password: 'not-the-password' })
    assert.equal(r.code, 535, r.text)
    assert.equal((await s.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 530)
  } finally {
    s.close()
  }
})

test('a login cached for a right password does not let a wrong one in', async () => {
  const ok = await session(ALICE)
  ok.close()
  const s = await session()
  try {
    assert.equal((await s.login({ address: ALICE.address, password: `${ALICE.password}x` })).code, 535)
  } finally {
    s.close()
  }
})

test('MAIL FROM without AUTH from 127.0.0.1 is refused with 530, with and without TLS', async () => {
  const plain = await Smtp.open(node.config.ports.submission)
  try {
    assert.equal((await plain.cmd('EHLO phone.test')).code, 250)
    const r = await plain.cmd(`MAIL FROM:<${ALICE.address}>`)
    assert.equal(r.code, 530, r.text)
    assert.match(r.text, /5\.7\.0/)
  } finally {
    plain.close()
  }
  const tls = await session()
  try {
    assert.equal((await tls.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 530)
  } finally {
    tls.close()
  }
})

test('MAIL FROM someone else is refused with 550 5.7.1', async () => {
  const s = await session(ALICE)
  try {
    const r = await s.cmd(`MAIL FROM:<${BOB.address}>`)
    assert.equal(r.code, 550, r.text)
    assert.match(r.text, /5\.7\.1 .*alice@camp\.test/)
    // Case does not matter for one's own address.
    assert.equal((await s.cmd('MAIL FROM:<Alice@Camp.Test>')).code, 250)
  } finally {
    s.close()
  }
})

test('relaying to a foreign domain is refused with 554 5.7.1, an unknown local user with 550 5.1.1', async () => {
  const s = await session(ALICE)
  try {
    assert.equal((await s.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 250)
    const foreign = await s.cmd('RCPT TO:<someone@example.org>')
    assert.equal(foreign.code, 554, foreign.text)
    assert.match(foreign.text, /5\.7\.1 relaying to example\.org is not possible/)
    const unknown = await s.cmd(`RCPT TO:<nobody@${DOMAIN}>`)
    assert.equal(unknown.code, 550, unknown.text)
    assert.match(unknown.text, /5\.1\.1 /)
    // No accepted recipient, so no DATA.
    assert.equal((await s.cmd('DATA')).code, 503)
  } finally {
    s.close()
  }
  assert.deepEqual(queueFiles(), [])
})

test('a From: header that is not the login is refused with 550 5.7.1 and nothing is stored', async () => {
  const s = await session(ALICE)
  try {
    const m = message(ALICE.address, BOB.address, { fromHeader: `Bob <${BOB.address}>` })
    assert.equal((await s.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 250)
    assert.equal((await s.cmd(`RCPT TO:<${BOB.address}>`)).code, 250)
    const r = await s.data(m.text)
    assert.equal(r.code, 550, r.text)
    assert.match(r.text, /5\.7\.1 /)
    assert.equal(storedWith(BOB.address, m.id), 0)
  } finally {
    s.close()
  }
  assert.deepEqual(queueFiles(), [])
})

test('an oversize message is refused (declared SIZE at MAIL FROM, and at the end of DATA) and nothing is stored', async () => {
  const s = await session(ALICE)
  try {
    const declared = await s.cmd(`MAIL FROM:<${ALICE.address}> SIZE=${MAX_BYTES + 1}`)
    assert.equal(declared.code, 550, declared.text)
    const m = message(ALICE.address, BOB.address, { body: ('x'.repeat(76) + '\r\n').repeat(Math.ceil(MAX_BYTES / 78) + 10) })
    assert.equal((await s.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 250)
    assert.equal((await s.cmd(`RCPT TO:<${BOB.address}>`)).code, 250)
    const r = await s.data(m.text)
    assert.equal(r.code, 550, r.text)
    assert.match(r.text, /too big/i)
    assert.equal(storedWith(BOB.address, m.id), 0)
  } finally {
    s.close()
  }
  assert.deepEqual(queueFiles(), [])
})

test('a flood past the burst gets 450 4.7.1 with the time to wait', async () => {
  // Carol has sent nothing yet: her bucket holds the whole burst.
  const s = await session(CAROL)
  try {
    for (let i = 0; i < BURST; i++) {
      assert.equal((await s.cmd(`MAIL FROM:<${CAROL.address}>`)).code, 250, `message ${i + 1} of the burst`)
      assert.equal((await s.cmd('RSET')).code, 250)
    }
    const r = await s.cmd(`MAIL FROM:<${CAROL.address}>`)
    assert.equal(r.code, 450, r.text)
    assert.match(r.text, /4\.7\.1 .*try again in \d+ s/)
  } finally {
    s.close()
  }
  // Other accounts are not held up by Carol's flood.
  const b = await session(BOB)
  try {
    assert.equal((await b.cmd(`MAIL FROM:<${BOB.address}>`)).code, 250)
  } finally {
    b.close()
  }
})

test('too many recipients get 452 4.5.3', async () => {
  const max = node.config.limits.max_recipients
  const s = await session(BOB)
  try {
    assert.equal((await s.cmd(`MAIL FROM:<${BOB.address}>`)).code, 250)
    for (let i = 0; i < max; i++) assert.equal((await s.cmd(`RCPT TO:<${ALICE.address}>`)).code, 250)
    const r = await s.cmd(`RCPT TO:<${CAROL.address}>`)
    assert.equal(r.code, 452, r.text)
    assert.match(r.text, /4\.5\.3/)
  } finally {
    s.close()
  }
})

// Last: it breaks the database on purpose.
test('when delivery throws (ledger table gone) the client gets 4xx and Haraka queues nothing', async () => {
  node.db.$client.exec('DROP TABLE deliveries')
  let uuid: string
  const s = await session(ALICE)
  try {
    const m = message(ALICE.address, BOB.address)
    assert.equal((await s.cmd(`MAIL FROM:<${ALICE.address}>`)).code, 250)
    assert.equal((await s.cmd(`RCPT TO:<${BOB.address}>`)).code, 250)
    const r = await s.data(m.text)
    assert.ok(r.code >= 400 && r.code < 500, `a temporary failure, got ${r.text}`)
    assert.match(r.text, /4\.3\.0 /)
    assert.equal(storedWith(BOB.address, m.id), 0)
    // The reply names the session, as Haraka's log does.
    uuid = /\(([0-9A-F-]{36})/.exec(r.text)?.[1] ?? ''
    assert.ok(uuid, `the reply names Haraka's session: ${r.text}`)
  } finally {
    s.close()
  }
  // Haraka logs this session's end after everything it did with the message.
  const ended = new RegExp(`\\[${uuid}(\\.\\d+)?\\] \\[core\\] disconnect `)
  await waitFor("Haraka's end of the session", () => ended.test(node.harakaOutput), { explain: () => node.harakaOutput.slice(-2000) })
  assert.deepEqual(queueFiles(), [])
  assert.match(node.harakaOutput, /deliver_local failed, answering DENYSOFT.*no such table: deliveries/s)
})

test('Haraka exits by itself when its supervisor goes away (the IPC channel closes)', CHILD_ONLY, async () => {
  const child = node.haraka!
  const pids = processTree(child.pid!)
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  child.disconnect()
  assert.equal(await exited, 0)
  assert.deepEqual(await waitAllGone(pids), [])
  assert.ok(!isAlive(child.pid!))
})

test('stopStaleHaraka stops a Haraka left running by an earlier run', CHILD_ONLY, async () => {
  // An orphan: no IPC channel, its own process group, nobody waiting for it.
  const { command, args, env } = harakaSpawnArgs(node.paths)
  const orphan = spawn(command, args, { env, stdio: 'ignore', detached: true })
  orphan.unref()
  const pid = orphan.pid!
  try {
    await waitFor('the orphan to listen', () => canConnect(node.config.ports.submission))
    await waitFor('the orphan to record its pid', () => existsSync(harakaPidFile(node.paths)))
    assert.deepEqual(await stopStaleHaraka(node.paths), [pid])
    assert.deepEqual(await waitAllGone([pid]), [])
    // The kernel may take a moment after the exit to drop the listening socket.
    await waitFor('the port to be free again', async () => !(await canConnect(node.config.ports.submission)), 2000)
    assert.equal(existsSync(harakaPidFile(node.paths)), false)
  } finally {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  }
})
