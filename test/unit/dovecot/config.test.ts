import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderDovecotConf, DovecotConfigError, dovecotInstanceName, type DovecotConfInput } from '../../../server/dovecot/config.js'
import { writeDovecotConf, validateDovecotConf, dovecotSpawnArgs, checkDovecotInstalled } from '../../../server/dovecot/process.js'
import { nodePaths, type NodePaths } from '../../../server/paths.js'
import { defaults } from '../../../server/config/schema.js'
import { exec, type Exec } from '../../../server/exec.js'

const USER = { name: 'outpost', group: 'outpost', uid: 998, gid: 997 }

function input(over: { root?: boolean; data?: string; mutate?: (i: DovecotConfInput) => void } = {}): DovecotConfInput {
  const config = defaults('camp.test', { root: false })
  config.listen.address = '127.0.0.1'
  const i: DovecotConfInput = { config, paths: nodePaths(over.data ?? '/srv/outpost'), user: { ...USER }, root: over.root ?? false }
  over.mutate?.(i)
  return i
}

/** The body of the first `name {` block (one level of nesting is enough here). */
function block(conf: string, name: string): string {
  const start = conf.indexOf(`\n${name} {`)
  assert.ok(start >= 0, `block "${name}" missing`)
  let depth = 0
  for (let i = conf.indexOf('{', start); i < conf.length; i++) {
    if (conf[i] === '{') depth++
    if (conf[i] === '}' && --depth === 0) return conf.slice(start, i + 1)
  }
  throw new Error(`block "${name}" not closed`)
}

function settings(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
}

test('IMAP listens with STARTTLS on ports.imap and implicit TLS on ports.imaps, at listen.address', () => {
  const conf = renderDovecotConf(input({ mutate: (i) => { i.config.ports.imap = 11143; i.config.ports.imaps = 11993 } }))['dovecot.conf']
  const login = block(conf, 'service imap-login')
  assert.match(login, /inet_listener imap \{\s*address = 127\.0\.0\.1\s*port = 11143\s*\}/)
  assert.match(login, /inet_listener imaps \{\s*address = 127\.0\.0\.1\s*port = 11993\s*ssl = yes\s*\}/)
  assert.match(conf, /^protocols = imap lmtp$/m)
  assert.doesNotMatch(conf, /pop3/)
})

test('LMTP is only a unix socket at paths.lmtpSocket, where Haraka delivers', () => {
  const i = input()
  const conf = renderDovecotConf(i)['dovecot.conf']
  const lmtp = block(conf, 'service lmtp')
  assert.equal(join(i.paths.dovecotBase, 'lmtp'), i.paths.lmtpSocket)
  // Inside base_dir the socket is named relative to it (Dovecot's own default listener).
  assert.match(lmtp, /unix_listener lmtp \{\s*mode = 0600\s*user = outpost\s*\}/)
  assert.doesNotMatch(lmtp, /inet_listener/)
  assert.match(conf, new RegExp(`^base_dir = ${i.paths.dovecotBase}$`, 'm'))
})

test('the instance is private: own base_dir, state_dir, log and instance name, nothing from /etc', () => {
  const i = input({ data: '/srv/node-a' })
  const conf = renderDovecotConf(i)['dovecot.conf']
  assert.match(conf, /^base_dir = \/srv\/node-a\/run\/dovecot$/m)
  assert.match(conf, /^state_dir = \/srv\/node-a\/run\/dovecot-state$/m)
  assert.match(conf, /^log_path = \/srv\/node-a\/log\/dovecot\.log$/m)
  assert.match(conf, new RegExp(`^instance_name = ${dovecotInstanceName(i.paths)}$`, 'm'))
  assert.notEqual(dovecotInstanceName(nodePaths('/srv/node-a')), dovecotInstanceName(nodePaths('/srv/node-b')))
  assert.ok(!settings(conf).some((l) => /!include|\/etc\//.test(l)), 'nothing may come from /etc')
})

test('accounts come from the accounts table through the sqlite driver', () => {
  const i = input()
  const files = renderDovecotConf(i)
  const sql = files['dovecot-sql.conf.ext']
  assert.match(sql, /^driver = sqlite$/m)
  assert.match(sql, new RegExp(`^connect = ${i.paths.db}$`, 'm'))
  assert.match(sql, /^default_pass_scheme = ARGON2ID$/m)
  assert.match(sql, /^password_query = SELECT address AS user, password_hash AS password FROM accounts WHERE address = '%u' AND '%\{secured\}' = 'TLS'$/m)
  assert.match(sql, /^user_query = SELECT .*COALESCE\(quota_mb, 100\).* AS quota_rule FROM accounts WHERE address = '%u'$/m)
  assert.match(sql, /^iterate_query = SELECT address AS user FROM accounts$/m)

  const conf = files['dovecot.conf']
  const sqlPath = join(i.paths.dovecotDir, 'dovecot-sql.conf.ext')
  assert.match(block(conf, 'passdb'), new RegExp(`driver = sql\\s*args = ${sqlPath}`))
  const userdb = block(conf, 'userdb')
  assert.match(userdb, new RegExp(`driver = sql\\s*args = ${sqlPath}`))
  assert.match(userdb, new RegExp(`default_fields = uid=998 gid=997 home=${i.paths.mail}/%d/%n`))
  assert.doesNotMatch(conf, /allow_all_users/)
})

test('Delta Chat sees a chatmail relay: XCHATMAIL, IDLE keepalive, Maildir', () => {
  const conf = renderDovecotConf(input())['dovecot.conf']
  assert.match(conf, /^imap_capability = \+XCHATMAIL$/m)
  assert.match(conf, /^imap_idle_notify_interval = 2 mins$/m)
  assert.match(conf, /^mail_location = maildir:~\/Maildir$/m)
  assert.match(conf, /^mail_fsync = optimized$/m)
})

test('TLS is required, with the node certificate, TLS 1.2 at least', () => {
  const i = input()
  const conf = renderDovecotConf(i)['dovecot.conf']
  assert.match(conf, /^ssl = required$/m)
  assert.match(conf, new RegExp(`^ssl_cert = <${i.paths.tlsCert}$`, 'm'))
  assert.match(conf, new RegExp(`^ssl_key = <${i.paths.tlsKey}$`, 'm'))
  assert.match(conf, /^ssl_min_protocol = TLSv1\.2$/m)
})

test('quota comes from mail.quota_mb and is announced over IMAP', () => {
  const files = renderDovecotConf(input({ mutate: (i) => { i.config.mail.quota_mb = 250 } }))
  const conf = files['dovecot.conf']
  assert.match(conf, /^mail_plugins = \$mail_plugins quota$/m)
  assert.match(block(conf, 'protocol imap'), /mail_plugins = \$mail_plugins imap_quota/)
  const plugin = settings(block(conf, 'plugin'))
  assert.ok(plugin.includes('quota = maildir:User quota'))
  assert.ok(plugin.includes('quota_rule = *:storage=250M'))
  assert.match(files['dovecot-sql.conf.ext'], /COALESCE\(quota_mb, 250\)/)
})

test('LMTP answers per recipient and never files user+detail elsewhere', () => {
  const conf = renderDovecotConf(input())['dovecot.conf']
  assert.match(block(conf, 'protocol lmtp'), /lmtp_save_to_detail_mailbox = no/)
  assert.match(conf, /^recipient_delimiter =$/m)
  assert.match(conf, /^lmtp_rcpt_check_quota = yes$/m)
})

test('not as root: Dovecot runs as the user, without chroot', () => {
  const conf = renderDovecotConf(input({ root: false }))['dovecot.conf']
  assert.match(conf, /^default_internal_user = outpost$/m)
  assert.match(conf, /^default_internal_group = outpost$/m)
  assert.match(conf, /^default_login_user = outpost$/m)
  assert.deepEqual(settings(block(conf, 'service anvil')).slice(1, -1), ['chroot ='])
  assert.ok(settings(block(conf, 'service imap-login')).includes('chroot ='))
  // The master cannot switch users without root, so LMTP gets no user of its own.
  assert.deepEqual(settings(block(conf, 'service lmtp')), ['service lmtp {', 'unix_listener lmtp {', 'mode = 0600', 'user = outpost', '}', '}'])
})

test('as root: mail processes and LMTP run as the user, login processes keep their chroot', () => {
  const conf = renderDovecotConf(input({ root: true }))['dovecot.conf']
  assert.doesNotMatch(conf, /default_internal_user|default_login_user/)
  assert.doesNotMatch(conf, /chroot =/)
  assert.deepEqual(settings(block(conf, 'service lmtp')), ['service lmtp {', 'unix_listener lmtp {', 'mode = 0600', 'user = outpost', '}', 'user = outpost', '}'])
  for (const line of ['first_valid_uid = 998', 'last_valid_uid = 998', 'first_valid_gid = 997', 'last_valid_gid = 997']) {
    assert.match(conf, new RegExp(`^${line}$`, 'm'))
  }
})

test('every setting outside a block has a comment above it or in its section', () => {
  const lines = renderDovecotConf(input())['dovecot.conf'].split('\n')
  let commented = false
  for (const line of lines) {
    if (line.startsWith('#')) commented = true
    else if (line.trim() === '') commented = false
    else if (/^[a-z_]+ = /.test(line)) assert.ok(commented, `no reason given for: ${line}`)
  }
})

test('unsafe values from the config are refused, not written', () => {
  const bad: Array<[string, (i: DovecotConfInput) => void, RegExp]> = [
    ['domain', (i) => { i.config.node.domain = 'camp.test\nssl = no' }, /node\.domain/],
    ['listen address', (i) => { i.config.listen.address = '127.0.0.1 }' }, /listen\.address/],
    ['port', (i) => { i.config.ports.imap = 70000 }, /ports\.imap/],
    ['path with a space', (i) => { i.paths = nodePaths('/srv/my node') }, /data directory/],
    ['path with a %', (i) => { i.paths = nodePaths('/srv/100%') }, /data directory/],
    ['user name', (i) => { i.user.name = 'a b' }, /user/],
    ['mail as root', (i) => { i.user.uid = 0 }, /root/],
    ['quota', (i) => { i.config.mail.quota_mb = 0 }, /quota_mb/],
    ['socket path too long', (i) => { i.paths = nodePaths('/srv/' + 'x'.repeat(100)) }, /107 bytes/],
  ]
  for (const [what, mutate, msg] of bad) {
    assert.throws(() => renderDovecotConf(input({ mutate })), (err: unknown) => err instanceof DovecotConfigError && msg.test(err.message), what)
  }
})

test('dovecotSpawnArgs runs the master in the foreground with the absolute config path', () => {
  const paths = nodePaths('/srv/outpost')
  assert.deepEqual(dovecotSpawnArgs(paths), { command: 'dovecot', args: ['-F', '-c', '/srv/outpost/dovecot/dovecot.conf'] })
})

test('checkDovecotInstalled names the packages to install', async () => {
  const missing: Exec = async () => { throw Object.assign(new Error('dovecot is not installed or not on PATH'), { code: 'ENOENT' }) }
  await assert.rejects(checkDovecotInstalled(missing), /apt-get install dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sqlite/)

  const fake: Exec = async (file, args) => {
    if (file === 'dovecot') return { code: 0, stdout: '2.3.19.1 (9b53102964)\n', stderr: '' }
    return { code: 0, stdout: args.includes('libexec_dir') ? '/usr/lib/dovecot\n' : '/usr/lib/dovecot/modules\n', stderr: '' }
  }
  await assert.rejects(checkDovecotInstalled(fake, (p) => !p.endsWith('libdriver_sqlite.so')), /libdriver_sqlite\.so \(package dovecot-sqlite\).*apt-get install/)
  assert.deepEqual(await checkDovecotInstalled(fake, () => true), { version: '2.3.19.1 (9b53102964)' })

  const v24: Exec = async () => ({ code: 0, stdout: '2.4.1-4 (7d8c0e5759)\n', stderr: '' })
  await assert.rejects(checkDovecotInstalled(v24, () => true), /written for Dovecot 2\.3/)
})

/** doveconf checks that the users it names exist, so use one every system has. */
async function nobody(): Promise<DovecotConfInput['user']> {
  const id = async (flag: string) => (await exec('id', [flag, 'nobody'])).stdout.trim()
  return { name: 'nobody', group: await id('-gn'), uid: Number(await id('-u')), gid: Number(await id('-g')) }
}

async function hasDoveconf(): Promise<boolean> {
  try {
    return (await exec('doveconf', ['-d', '-h', 'base_dir'])).code === 0
  } catch {
    return false
  }
}

test('the real doveconf accepts both renders', { skip: !(await hasDoveconf()) && 'doveconf is not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'opc-'))
  const user = await nobody()
  try {
    for (const root of [false, true]) {
      const paths: NodePaths = nodePaths(join(dir, root ? 'root' : 'user'))
      mkdirSync(paths.tlsDir, { recursive: true })
      // doveconf reads ssl_cert/ssl_key ("<file") but does not parse them.
      writeFileSync(paths.tlsCert, 'not checked by doveconf\n')
      writeFileSync(paths.tlsKey, 'not checked by doveconf\n', { mode: 0o600 })
      writeDovecotConf(paths, renderDovecotConf(input({ root, data: paths.data, mutate: (i) => { i.user = user } })))
      const { warnings } = await validateDovecotConf(exec, paths.dovecotConf)
      assert.deepEqual(warnings, [], `doveconf warnings (${root ? 'root' : 'non-root'}): ${warnings.join('; ')}`)
    }
    // And a broken file is reported with doveconf's own words.
    const broken = nodePaths(join(dir, 'user'))
    writeFileSync(broken.dovecotConf, 'no_such_setting = 1\n')
    await assert.rejects(validateDovecotConf(exec, broken.dovecotConf), /Unknown setting: no_such_setting/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
