import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderDovecotConf, DovecotConfigError, AUTH_WORKERS, IMAP_CLIENTS_PER_PROCESS, IMAP_PROCESSES, dovecotInstanceName, SUPPORTED_DOVECOT_VERSIONS, type DovecotConfInput, type DovecotVersion } from '../../../server/dovecot/config.js'
import { writeDovecotConf, validateDovecotConf, dovecotSpawnArgs, checkDovecotInstalled, supportedDovecotVersion } from '../../../server/dovecot/process.js'
import { nodePaths, type NodePaths } from '../../../server/base/paths.js'
import { defaults } from '../../../server/config/schema.js'
import { exec, type Exec } from '../../../server/base/exec.js'

const USER = { name: 'outpost', group: 'outpost', uid: 998, gid: 997 }

function input(over: { version?: DovecotVersion; root?: boolean; data?: string; mutate?: (i: DovecotConfInput) => void } = {}): DovecotConfInput {
  const config = defaults('camp.test', { root: false })
  config.listen.address = '127.0.0.1'
  const i: DovecotConfInput = { version: over.version ?? '2.3', config, paths: nodePaths(over.data ?? '/srv/outpost'), user: { ...USER }, root: over.root ?? false }
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

test('2.3: IMAP listens with STARTTLS on ports.imap and implicit TLS on ports.imaps, at listen.address', () => {
  const conf = renderDovecotConf(input({ mutate: (i) => { i.config.ports.imap = 11143; i.config.ports.imaps = 11993 } }))['dovecot.conf']
  const login = block(conf, 'service imap-login')
  assert.match(login, /inet_listener imap \{\s*address = 127\.0\.0\.1\s*port = 11143\s*\}/)
  assert.match(login, /inet_listener imaps \{\s*address = 127\.0\.0\.1\s*port = 11993\s*ssl = yes\s*\}/)
  assert.match(conf, /^protocols = imap lmtp$/m)
  assert.doesNotMatch(conf, /pop3/)
})

test('2.3: LMTP is only a unix socket at paths.lmtpSocket, where Haraka delivers', () => {
  const i = input()
  const conf = renderDovecotConf(i)['dovecot.conf']
  const lmtp = block(conf, 'service lmtp')
  assert.equal(join(i.paths.dovecotBase, 'lmtp'), i.paths.lmtpSocket)
  // Inside base_dir the socket is named relative to it (Dovecot's own default listener).
  assert.match(lmtp, /unix_listener lmtp \{\s*mode = 0600\s*user = outpost\s*\}/)
  assert.doesNotMatch(lmtp, /inet_listener/)
  assert.match(conf, new RegExp(`^base_dir = ${i.paths.dovecotBase}$`, 'm'))
})

test('2.3: the instance is private: own base_dir, state_dir, log and instance name, nothing from /etc', () => {
  const i = input({ data: '/srv/node-a' })
  const conf = renderDovecotConf(i)['dovecot.conf']
  assert.match(conf, /^base_dir = \/srv\/node-a\/run\/dovecot$/m)
  assert.match(conf, /^state_dir = \/srv\/node-a\/run\/dovecot-state$/m)
  assert.match(conf, /^log_path = \/srv\/node-a\/log\/dovecot\.log$/m)
  assert.match(conf, new RegExp(`^instance_name = ${dovecotInstanceName(i.paths)}$`, 'm'))
  assert.notEqual(dovecotInstanceName(nodePaths('/srv/node-a')), dovecotInstanceName(nodePaths('/srv/node-b')))
  assert.ok(!settings(conf).some((l) => /!include|\/etc\//.test(l)), 'nothing may come from /etc')
})

test('2.3: accounts come from the accounts table through the sqlite driver', () => {
  const i = input()
  const files = renderDovecotConf(i)
  const sql = files['dovecot-sql.conf.ext']!
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

test('2.3: Delta Chat sees a chatmail relay: XCHATMAIL, IDLE keepalive, Maildir', () => {
  const conf = renderDovecotConf(input())['dovecot.conf']
  assert.match(conf, /^imap_capability = \+XCHATMAIL$/m)
  assert.match(conf, /^imap_idle_notify_interval = 2 mins$/m)
  assert.match(conf, /^mail_location = maildir:~\/Maildir$/m)
  assert.match(conf, /^mail_fsync = optimized$/m)
})

test('2.3: TLS is required, with the node certificate, TLS 1.2 at least', () => {
  const i = input()
  const conf = renderDovecotConf(i)['dovecot.conf']
  assert.match(conf, /^ssl = required$/m)
  assert.match(conf, new RegExp(`^ssl_cert = <${i.paths.tlsCert}$`, 'm'))
  assert.match(conf, new RegExp(`^ssl_key = <${i.paths.tlsKey}$`, 'm'))
  assert.match(conf, /^ssl_min_protocol = TLSv1\.2$/m)
})

test('2.3: quota comes from mail.quota_mb and is announced over IMAP', () => {
  const files = renderDovecotConf(input({ mutate: (i) => { i.config.mail.quota_mb = 250 } }))
  const conf = files['dovecot.conf']
  assert.match(conf, /^mail_plugins = \$mail_plugins quota$/m)
  assert.match(block(conf, 'protocol imap'), /mail_plugins = \$mail_plugins imap_quota/)
  const plugin = settings(block(conf, 'plugin'))
  assert.ok(plugin.includes('quota = maildir:User quota'))
  assert.ok(plugin.includes('quota_rule = *:storage=250M'))
  assert.match(files['dovecot-sql.conf.ext']!, /COALESCE\(quota_mb, 250\)/)
})

test('2.3: LMTP answers per recipient and never files user+detail elsewhere', () => {
  const conf = renderDovecotConf(input())['dovecot.conf']
  assert.match(block(conf, 'protocol lmtp'), /lmtp_save_to_detail_mailbox = no/)
  assert.match(conf, /^recipient_delimiter =$/m)
  assert.match(conf, /^lmtp_rcpt_check_quota = yes$/m)
})

test('2.3: not as root: Dovecot runs as the user, without chroot', () => {
  const conf = renderDovecotConf(input({ root: false }))['dovecot.conf']
  assert.match(conf, /^default_internal_user = outpost$/m)
  assert.match(conf, /^default_internal_group = outpost$/m)
  assert.match(conf, /^default_login_user = outpost$/m)
  assert.deepEqual(settings(block(conf, 'service anvil')).slice(1, -1), ['chroot ='])
  assert.ok(settings(block(conf, 'service imap-login')).includes('chroot ='))
  // The master cannot switch users without root, so LMTP gets no user of its own.
  assert.deepEqual(settings(block(conf, 'service lmtp')), ['service lmtp {', 'service_count = 1', 'unix_listener lmtp {', 'mode = 0600', 'user = outpost', '}', '}'])
})

test('2.3: as root: mail processes and LMTP run as the user, login processes keep their chroot', () => {
  const conf = renderDovecotConf(input({ root: true }))['dovecot.conf']
  assert.doesNotMatch(conf, /default_internal_user|default_login_user/)
  assert.doesNotMatch(conf, /chroot =/)
  assert.deepEqual(settings(block(conf, 'service lmtp')), ['service lmtp {', 'service_count = 1', 'unix_listener lmtp {', 'mode = 0600', 'user = outpost', '}', 'user = outpost', '}'])
  for (const line of ['first_valid_uid = 998', 'last_valid_uid = 998', 'first_valid_gid = 997', 'last_valid_gid = 997']) {
    assert.match(conf, new RegExp(`^${line}$`, 'm'))
  }
})

test('a group of phones shares a few long-lived Dovecot processes instead of two processes a phone (2.3 and 2.4 names)', () => {
  for (const [version, reuse, idleKill, once] of [['2.3', 'service_count = 0', 'idle_kill', 'service_count = 1'], ['2.4', 'restart_request_count = unlimited', 'idle_kill_interval', 'restart_request_count = 1']] as const) {
    const conf = renderDovecotConf(input({ version }))['dovecot.conf']
    // One login process does the TLS of every connection, and is never restarted.
    const login = settings(block(conf, 'service imap-login'))
    assert.ok(login.includes(reuse), `${version}: imap-login ${reuse}`)
    assert.ok(login.includes(`${idleKill} = 10 secs`), `${version}: imap-login ${idleKill}`)
    // Several IMAP sessions per imap process, and the process outlives its first one.
    const imap = settings(block(conf, 'service imap'))
    // A group (about 30 phones) fits in one imap process.
    assert.ok(imap.includes(`client_limit = ${IMAP_CLIENTS_PER_PROCESS}`) && IMAP_CLIENTS_PER_PROCESS >= 30, `${version}: imap client_limit`)
    assert.ok(imap.includes(`process_limit = ${IMAP_PROCESSES}`) && IMAP_PROCESSES * IMAP_CLIENTS_PER_PROCESS <= 1000, `${version}: imap process_limit`)
    assert.ok(imap.includes(reuse), `${version}: imap ${reuse}`)
    // An LMTP process ends with its session: none is left over from a burst.
    const lmtp = settings(block(conf, 'service lmtp'))
    assert.ok(lmtp.includes(once), `${version}: lmtp ${once}`)
    // Sessions are bounded by the node (LMTP_SESSIONS), not by a cap that would make them queue.
    assert.ok(!lmtp.some((l) => /^(process_limit|client_limit) /.test(l)), `${version}: lmtp keeps Dovecot's process_limit and client_limit`)
  }
})

test('no process writes statistics, so Dovecot starts no stats process (2.3 and 2.4)', () => {
  for (const version of ['2.3', '2.4'] as const) {
    const conf = renderDovecotConf(input({ version }))['dovecot.conf']
    assert.match(conf, /^stats_writer_socket_path =$/m, version)
    assert.doesNotMatch(conf, /^\s*(metric|event_exporter) /m, `${version}: no metric is defined that would need the stats process`)
  }
})

test('at most AUTH_WORKERS auth workers run, each counted by the setting that version\'s auth process reads, and an idle one ends soon', () => {
  assert.ok(AUTH_WORKERS >= 1 && AUTH_WORKERS <= 4)
  const c23 = renderDovecotConf(input({ version: '2.3' }))['dovecot.conf']
  // 2.3's auth process opens up to auth_worker_max_count worker connections; a
  // lower process_limit on the service instead leaves the extra connections
  // unserved until the master drops them, and their lookups fail
  // ("Worker process died unexpectedly"), so 2.3 must not set it.
  assert.match(c23, new RegExp(`^auth_worker_max_count = ${AUTH_WORKERS}$`, 'm'))
  assert.deepEqual(settings(block(c23, 'service auth-worker')), ['service auth-worker {', 'idle_kill = 10 secs', '}'])
  // 2.4 has no auth_worker_max_count; its auth process learns the service's
  // process_limit from the first worker (the node's warm-up lookup makes
  // sure that happens before any login).
  const c24 = renderDovecotConf(input({ version: '2.4' }))['dovecot.conf']
  assert.doesNotMatch(c24, /^auth_worker_max_count/m)
  assert.deepEqual(settings(block(c24, 'service auth-worker')), ['service auth-worker {', `process_limit = ${AUTH_WORKERS}`, 'idle_kill_interval = infinite', '}'])
})

const v24 = (over: Parameters<typeof input>[0] = {}) => renderDovecotConf(input({ ...over, version: '2.4' }))

test('2.4: the config and storage versions come first, as 2.4 requires, and there is no second file', () => {
  const files = v24()
  assert.deepEqual(Object.keys(files), ['dovecot.conf'])
  assert.deepEqual(settings(files['dovecot.conf']).slice(0, 2), ['dovecot_config_version = 2.4.0', 'dovecot_storage_version = 2.4.0'])
  // Every link goes to the 2.4 documentation, none to 2.3's or the old wiki.
  for (const root of [false, true]) {
    const conf = v24({ root })['dovecot.conf']
    const links = conf.match(/https?:\/\/\S+/g) ?? []
    assert.ok(links.length >= 10, 'the settings link to their documentation')
    for (const link of links) assert.match(link, /^https:\/\/doc\.dovecot\.org\/2\.4\.1\//)
  }
})

test('2.4: IMAP listens with STARTTLS on ports.imap and implicit TLS on ports.imaps, at listen.address', () => {
  const conf = v24({ mutate: (i) => { i.config.ports.imap = 11143; i.config.ports.imaps = 11993 } })['dovecot.conf']
  const login = block(conf, 'service imap-login')
  assert.match(login, /inet_listener imap \{\s*listen = 127\.0\.0\.1\s*port = 11143\s*\}/)
  assert.match(login, /inet_listener imaps \{\s*listen = 127\.0\.0\.1\s*port = 11993\s*ssl = yes\s*\}/)
  assert.doesNotMatch(login, /address =/)
  assert.match(conf, /^protocols = imap lmtp$/m)
  assert.doesNotMatch(conf, /pop3/)
})

test('2.4: LMTP is only a unix socket at paths.lmtpSocket, where Haraka delivers', () => {
  const i = input({ version: '2.4' })
  const conf = renderDovecotConf(i)['dovecot.conf']
  assert.deepEqual(settings(block(conf, 'service lmtp')), ['service lmtp {', 'restart_request_count = 1', 'unix_listener lmtp {', 'mode = 0600', 'user = outpost', '}', '}'])
  assert.match(conf, new RegExp(`^base_dir = ${i.paths.dovecotBase}$`, 'm'))
})

test('2.4: the instance is private: own base_dir, state_dir, log and instance name, nothing from /etc', () => {
  const i = input({ version: '2.4', data: '/srv/node-a' })
  const conf = renderDovecotConf(i)['dovecot.conf']
  assert.match(conf, /^base_dir = \/srv\/node-a\/run\/dovecot$/m)
  assert.match(conf, /^state_dir = \/srv\/node-a\/run\/dovecot-state$/m)
  assert.match(conf, /^log_path = \/srv\/node-a\/log\/dovecot\.log$/m)
  assert.match(conf, new RegExp(`^instance_name = ${dovecotInstanceName(i.paths)}$`, 'm'))
  assert.ok(!settings(conf).some((l) => /!include|\/etc\//.test(l)), 'nothing may come from /etc')
})

test('2.4: accounts come from the accounts table through the sqlite driver, in dovecot.conf itself', () => {
  const i = input({ version: '2.4' })
  const conf = renderDovecotConf(i)['dovecot.conf']
  assert.match(conf, /^sql_driver = sqlite$/m)
  assert.match(conf, new RegExp(`^sqlite_path = ${i.paths.db}$`, 'm'))
  assert.deepEqual(settings(block(conf, 'passdb sql')), [
    'passdb sql {',
    // Over loopback Dovecot calls a plain-text connection "secured" too; only TLS may log in.
    "query = SELECT address AS user, password_hash AS password FROM accounts WHERE address = '%{user}' AND '%{secured}' = 'TLS'",
    'default_password_scheme = ARGON2ID',
    '}',
  ])
  assert.deepEqual(settings(block(conf, 'userdb sql')), [
    'userdb sql {',
    "query = SELECT address AS user, COALESCE(quota_mb, 100) || 'M' AS quota_storage_size FROM accounts WHERE address = '%{user}'",
    'iterate_query = SELECT address AS user FROM accounts',
    'fields {',
    'uid = 998',
    'gid = 997',
    `home = ${i.paths.mail}/%{user | domain}/%{user | username}`,
    '}',
    '}',
  ])
  // No 2.3 leftovers: no args file, no %u-style variables.
  assert.doesNotMatch(conf, /dovecot-sql\.conf\.ext|args =|driver = sql$|%[udn]\b/m)
  assert.doesNotMatch(conf, /allow_all_users/)
})

test('2.4: Delta Chat sees a chatmail relay: XCHATMAIL, IDLE keepalive, Maildir', () => {
  const conf = v24()['dovecot.conf']
  assert.deepEqual(settings(block(conf, 'imap_capability')), ['imap_capability {', 'XCHATMAIL = yes', '}'])
  assert.match(conf, /^imap_idle_notify_interval = 2 mins$/m)
  assert.match(conf, /^mail_driver = maildir$/m)
  assert.match(conf, /^mail_path = ~\/Maildir$/m)
  assert.doesNotMatch(conf, /mail_location/)
  assert.match(conf, /^mail_fsync = optimized$/m)
  assert.deepEqual(settings(block(conf, 'namespace inbox')), ['namespace inbox {', 'inbox = yes', '}'])
})

test('2.4: TLS is required, with the node certificate, TLS 1.2 at least', () => {
  const i = input({ version: '2.4' })
  const conf = renderDovecotConf(i)['dovecot.conf']
  assert.match(conf, /^ssl = required$/m)
  assert.match(conf, new RegExp(`^ssl_server_cert_file = ${i.paths.tlsCert}$`, 'm'))
  assert.match(conf, new RegExp(`^ssl_server_key_file = ${i.paths.tlsKey}$`, 'm'))
  assert.doesNotMatch(conf, /ssl_cert|ssl_key|</)
  assert.match(conf, /^ssl_min_protocol = TLSv1\.2$/m)
})

test('2.4: quota comes from mail.quota_mb, per account from the userdb, and is announced over IMAP', () => {
  const conf = v24({ mutate: (i) => { i.config.mail.quota_mb = 250; i.config.limits.max_message_bytes = 31457280 } })['dovecot.conf']
  assert.deepEqual(settings(block(conf, 'mail_plugins')), ['mail_plugins {', 'quota = yes', '}'])
  assert.deepEqual(settings(block(conf, 'protocol imap')), ['protocol imap {', 'mail_plugins {', 'imap_quota = yes', '}', '}'])
  assert.deepEqual(settings(block(conf, 'quota "User quota"')), ['quota "User quota" {', 'driver = maildir', '}'])
  // Outside the quota block, where the userdb's quota_storage_size overrides it.
  assert.match(conf, /^quota_storage_size = 250M$/m)
  assert.match(block(conf, 'userdb sql'), /COALESCE\(quota_mb, 250\) \|\| 'M' AS quota_storage_size/)
  assert.match(conf, /^quota_mail_size = 31457280$/m)
  assert.doesNotMatch(conf, /^plugin \{|quota_rule/m)
})

test('2.4: LMTP answers per recipient and never files user+detail elsewhere', () => {
  const conf = v24()['dovecot.conf']
  assert.deepEqual(settings(block(conf, 'protocol lmtp')), ['protocol lmtp {', 'lmtp_save_to_detail_mailbox = no', '}'])
  assert.match(conf, /^recipient_delimiter =$/m)
  assert.match(conf, /^lmtp_rcpt_check_quota = yes$/m)
  assert.match(conf, /^lmtp_add_received_header = no$/m)
})

test('2.4: not as root: Dovecot runs as the user, without chroot', () => {
  const conf = v24({ root: false })['dovecot.conf']
  assert.match(conf, /^default_internal_user = outpost$/m)
  assert.match(conf, /^default_internal_group = outpost$/m)
  assert.match(conf, /^default_login_user = outpost$/m)
  assert.deepEqual(settings(block(conf, 'service anvil')).slice(1, -1), ['chroot ='])
  assert.deepEqual(settings(block(conf, 'service imap-urlauth-login')).slice(1, -1), ['chroot ='])
  assert.ok(settings(block(conf, 'service imap-login')).includes('chroot ='))
})

test('2.4: as root: mail processes and LMTP run as the user, login processes keep their chroot', () => {
  const conf = v24({ root: true })['dovecot.conf']
  assert.doesNotMatch(conf, /default_internal_user|default_login_user/)
  assert.doesNotMatch(conf, /chroot =/)
  assert.deepEqual(settings(block(conf, 'service lmtp')), ['service lmtp {', 'restart_request_count = 1', 'unix_listener lmtp {', 'mode = 0600', 'user = outpost', '}', 'user = outpost', '}'])
  for (const line of ['first_valid_uid = 998', 'last_valid_uid = 998', 'first_valid_gid = 997', 'last_valid_gid = 997']) {
    assert.match(conf, new RegExp(`^${line}$`, 'm'))
  }
})

test('2.4 as root: the anvil socket is open to the mail processes\' group; 2.3 and a node without root leave it alone', () => {
  const conf = v24({ root: true })['dovecot.conf']
  assert.deepEqual(settings(block(conf, 'service anvil')), ['service anvil {', 'unix_listener anvil {', 'group = outpost', 'mode = 0660', '}', '}'])
  assert.doesNotMatch(renderDovecotConf(input({ version: '2.3', root: true }))['dovecot.conf'], /unix_listener anvil/)
  assert.doesNotMatch(v24({ root: false })['dovecot.conf'], /unix_listener anvil/)
})

test('the 2.3 render is not 2.4 syntax, and the other way round', () => {
  const c23 = renderDovecotConf(input({ version: '2.3' }))['dovecot.conf']
  const c24 = v24()['dovecot.conf']
  assert.doesNotMatch(c23, /dovecot_config_version|mail_driver|ssl_server_/)
  assert.doesNotMatch(c24, /mail_location|^ssl_cert|^imap_capability = /m)
  assert.throws(() => renderDovecotConf(input({ version: '2.5' as DovecotVersion })), /2\.5 is not one Outpost can configure \(2\.3, 2\.4\)/)
})

for (const version of SUPPORTED_DOVECOT_VERSIONS) {
  test(`${version}: every setting outside a block has a comment above it or in its section`, () => {
    for (const root of [false, true]) {
      const lines = renderDovecotConf(input({ version, root }))['dovecot.conf'].split('\n')
      let commented = false
      for (const line of lines) {
        if (line.startsWith('#')) commented = true
        else if (line.trim() === '') commented = false
        else if (/^[a-z_]+ = /.test(line)) assert.ok(commented, `no reason given for: ${line}`)
      }
    }
  })
}

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
  for (const version of SUPPORTED_DOVECOT_VERSIONS) {
    for (const [what, mutate, msg] of bad) {
      assert.throws(() => renderDovecotConf(input({ version, mutate })), (err: unknown) => err instanceof DovecotConfigError && msg.test(err.message), `${version}: ${what}`)
    }
  }
})

test('dovecotSpawnArgs runs the master in the foreground with the absolute config path', () => {
  const paths = nodePaths('/srv/outpost')
  assert.deepEqual(dovecotSpawnArgs(paths), { command: 'dovecot', args: ['-F', '-c', '/srv/outpost/dovecot/dovecot.conf'] })
})

test('checkDovecotInstalled names the packages to install', async () => {
  const missing: Exec = async () => { throw Object.assign(new Error('dovecot is not installed or not on PATH'), { code: 'ENOENT' }) }
  await assert.rejects(checkDovecotInstalled(missing), /apt-get install dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sqlite/)

  const fake = (version: string): Exec => async (file, args) => {
    if (file === 'dovecot') return { code: 0, stdout: `${version}\n`, stderr: '' }
    assert.deepEqual(args, ['-d', '-c', '/dev/null', 'libexec_dir', 'mail_plugin_dir'])
    return { code: 0, stdout: 'libexec_dir = /opt/dovecot/libexec\nmail_plugin_dir = /opt/dovecot/modules\n', stderr: '' }
  }
  await assert.rejects(
    checkDovecotInstalled(fake('2.3.19.1 (9b53102964)'), (p) => !p.endsWith('libdriver_sqlite.so')),
    /\/opt\/dovecot\/modules\/auth\/libdriver_sqlite\.so \(package dovecot-sqlite\).*apt-get install/,
  )
  assert.deepEqual(await checkDovecotInstalled(fake('2.3.19.1 (9b53102964)'), () => true), { version: '2.3', installed: '2.3.19.1 (9b53102964)' })
  assert.deepEqual(await checkDovecotInstalled(fake('2.4.1-4 (7d8c0e5759)'), () => true), { version: '2.4', installed: '2.4.1-4 (7d8c0e5759)' })
})

test('checkDovecotInstalled does not depend on doveconf -h, which 2.4.1 refuses', async () => {
  // As seen on trixie: -h fails with exit 89 however the name is spelled.
  let calls = 0
  const flaky: Exec = async (file, args) => {
    if (file === 'dovecot') return { code: 0, stdout: '2.4.1-4 (7d8c0e5759)\n', stderr: '' }
    if (args.includes('-h')) return { code: 89, stdout: '', stderr: 'doveconf: Fatal: Multiple settings matched with -h parameter\n' }
    // And a doveconf that fails once before it answers.
    if (++calls === 1) return { code: 89, stdout: '', stderr: 'doveconf: Fatal: something passing\n' }
    return { code: 0, stdout: 'libexec_dir = /usr/lib/dovecot\nmail_plugin_dir = /usr/lib/dovecot/modules\n', stderr: '' }
  }
  const seen: string[] = []
  assert.equal((await checkDovecotInstalled(flaky, (p) => (seen.push(p), true))).version, '2.4')
  assert.deepEqual(seen, ['/usr/lib/dovecot/imap', '/usr/lib/dovecot/lmtp', '/usr/lib/dovecot/modules/auth/libdriver_sqlite.so'])

  // A doveconf that never answers: Debian's layout is checked, and the error says why.
  const broken: Exec = async (file) =>
    file === 'dovecot' ? { code: 0, stdout: '2.4.1-4 (7d8c0e5759)\n', stderr: '' } : { code: 89, stdout: '', stderr: 'doveconf: Fatal: broken\n' }
  assert.equal((await checkDovecotInstalled(broken, () => true)).version, '2.4')
  await assert.rejects(checkDovecotInstalled(broken, (p) => !p.endsWith('/lmtp')), /\/usr\/lib\/dovecot\/lmtp \(package dovecot-lmtpd\) \(Debian's paths, because doveconf .* exited 89: doveconf: Fatal: broken\)/)
})

test('an unsupported Dovecot is refused with the supported versions and what to do, never with the packages that gave it', () => {
  for (const [installed, expect] of [['2.3.19.1 (9b53102964)', '2.3'], ['2.3.21', '2.3'], ['2.4.1-4 (7d8c0e5759)', '2.4'], ['2.4.0', '2.4'], ['2.4.2 (hash)', '2.4']] as const) {
    assert.equal(supportedDovecotVersion(installed), expect, installed)
  }
  const refused = (installed: string): string => {
    try {
      supportedDovecotVersion(installed)
    } catch (err) {
      return (err as Error).message
    }
    assert.fail(`${installed} was accepted`)
  }
  for (const installed of ['2.2.36 (1f10bfa63)', '2.5.0 (abc)', '3.0.0 (abc)', '2.40.1', 'not a version']) {
    const msg = refused(installed)
    assert.match(msg, /Dovecot 2\.3 and 2\.4/, installed)
    assert.doesNotMatch(msg, /apt-get install/, `${installed}: installing the distribution's packages again would not help`)
  }
  assert.match(refused('2.2.36 (1f10bfa63)'), /older\. Upgrade Dovecot to 2\.3 or 2\.4 \(Debian 12 "bookworm" ships Dovecot 2\.3, Debian 13 "trixie"/)
  assert.match(refused('2.5.0 (abc)'), /cannot yet write a configuration for Dovecot 2\.5\. Install Dovecot 2\.4 instead .*apt-mark hold dovecot-core/)
  assert.match(refused('3.0.0 (abc)'), /Dovecot 3\.0/)
})

test('writeDovecotConf removes a dovecot-sql.conf.ext that a 2.3 render left when 2.4 takes over', () => {
  const dir = mkdtempSync(join(tmpdir(), 'opc-'))
  try {
    const paths = nodePaths(dir)
    mkdirSync(paths.dovecotDir, { recursive: true })
    const sqlFile = join(paths.dovecotDir, 'dovecot-sql.conf.ext')
    writeDovecotConf(paths, renderDovecotConf(input({ version: '2.3', data: dir })))
    assert.ok(existsSync(sqlFile))
    writeDovecotConf(paths, renderDovecotConf(input({ version: '2.4', data: dir })))
    assert.ok(!existsSync(sqlFile), 'no stale 2.3 SQL file beside the 2.4 config')
    assert.match(readFileSync(paths.dovecotConf, 'utf8'), /^dovecot_config_version = 2\.4\.0$/m)
    // And back: a downgrade writes it again.
    writeDovecotConf(paths, renderDovecotConf(input({ version: '2.3', data: dir })))
    assert.match(readFileSync(sqlFile, 'utf8'), /^driver = sqlite$/m)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

/** doveconf checks that the users it names exist, so use one every system has. */
async function nobody(): Promise<DovecotConfInput['user']> {
  const id = async (flag: string) => (await exec('id', [flag, 'nobody'])).stdout.trim()
  return { name: 'nobody', group: await id('-gn'), uid: Number(await id('-u')), gid: Number(await id('-g')) }
}

/**
 * The installed Dovecot's version, or undefined when there is none. Not
 * `doveconf -d -h`: 2.4.1 refuses -h, and this test would be skipped exactly
 * where it matters.
 */
async function installedDovecot(): Promise<DovecotVersion | undefined> {
  try {
    return (await checkDovecotInstalled(exec)).version
  } catch {
    return undefined
  }
}
const installed = await installedDovecot()

test(`the real doveconf (Dovecot ${installed ?? 'none'}) accepts its version's render, as root and not`, { skip: !installed && 'Dovecot is not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'opc-'))
  const user = await nobody()
  try {
    for (const [root, listen] of [[false, '127.0.0.1'], [true, '127.0.0.1'], [false, '::']] as const) {
      const paths: NodePaths = nodePaths(join(dir, `${root ? 'root' : 'user'}-${listen === '::' ? 'v6' : 'v4'}`))
      mkdirSync(paths.tlsDir, { recursive: true })
      // doveconf reads the certificate and key files but does not parse them.
      writeFileSync(paths.tlsCert, 'not checked by doveconf\n')
      writeFileSync(paths.tlsKey, 'not checked by doveconf\n', { mode: 0o600 })
      writeDovecotConf(paths, renderDovecotConf(input({ version: installed!, root, data: paths.data, mutate: (i) => { i.user = user; i.config.listen.address = listen } })))
      const { warnings } = await validateDovecotConf(exec, paths.dovecotConf)
      assert.deepEqual(warnings, [], `doveconf warnings (${root ? 'root' : 'non-root'}, listen ${listen}): ${warnings.join('; ')}`)
    }
    // And a broken file is reported with doveconf's own words (2.4 wants its version line first).
    const broken = nodePaths(join(dir, 'user-v4'))
    writeFileSync(broken.dovecotConf, (installed === '2.4' ? 'dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n' : '') + 'no_such_setting = 1\n')
    await assert.rejects(validateDovecotConf(exec, broken.dovecotConf), /Unknown setting: no_such_setting/)
    // A 2.3 config under 2.4 (or the other way round) is refused, not half-read.
    const other = installed === '2.4' ? '2.3' : '2.4'
    writeDovecotConf(broken, renderDovecotConf(input({ version: other, data: broken.data, mutate: (i) => { i.user = user } })))
    await assert.rejects(validateDovecotConf(exec, broken.dovecotConf), /Dovecot rejects the generated/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('listen.address "::" is every address, IPv4 and IPv6, in both versions (Dovecot binds "::" to IPv6 only)', () => {
  for (const version of ['2.3', '2.4'] as const) {
    const conf = renderDovecotConf(input({ version, mutate: (i) => { i.config.listen.address = '::' } }))['dovecot.conf']
    const key = version === '2.3' ? 'address' : 'listen'
    assert.equal(conf.match(new RegExp(`^\\s+${key} = \\*, ::$`, 'gm'))?.length, 2, `${version}: both IMAP listeners on "*, ::"`)
  }
})
