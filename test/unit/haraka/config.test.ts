import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaults } from '../../../server/config/schema.js'
import { nodePaths } from '../../../server/base/paths.js'
import { OUTPOST_PLUGINS, renderHarakaConfig, writeHarakaConfig } from '../../../server/haraka/config.js'
import { parseSettings } from '../../../server/haraka/lib/settings.js'

const paths = nodePaths('/srv/outpost-test')
function render(mutate?: (c: ReturnType<typeof defaults>) => void) {
  const config = defaults('camp.test', { root: false })
  config.listen.address = '10.0.0.1'
  mutate?.(config)
  return renderHarakaConfig({ config, paths, pluginDir: '/opt/outpost/dist/haraka-plugins' })
}

/** Non-comment lines of an ini file. */
const settings = (text: string) => text.split('\n').filter((l) => l && !l.startsWith(';') && !l.startsWith('#'))

test('smtp.ini listens on both submission ports, implicit TLS on smtps, one process', () => {
  const ini = settings(render()['config/smtp.ini']!)
  assert.deepEqual(ini, ['listen=10.0.0.1:1587,10.0.0.1:1465', 'smtps_port=1465', 'nodes=0'])
})

test('an IPv6 listen address is bracketed', () => {
  const ini = render((c) => (c.listen.address = '::1'))['config/smtp.ini']!
  assert.match(ini, /^listen=\[::1\]:1587,\[::1\]:1465$/m)
})

test('plugins: TLS and ours, and nothing that lets a client skip AUTH', () => {
  const list = settings(render()['config/plugins']!)
  assert.deepEqual(list, ['tls', ...OUTPOST_PLUGINS])
  for (const p of ['relay', 'auth/flat_file', 'rcpt_to.in_host_list', 'queue/smtp_forward', 'queue/lmtp']) assert.ok(!list.includes(p), p)
})

test('TLS uses the node certificate where it lies, and a shipped DH group', () => {
  const files = render()
  const ini = settings(files['config/tls.ini']!)
  assert.ok(ini.includes(`key=${paths.tlsKey}`))
  assert.ok(ini.includes(`cert=${paths.tlsCert}`))
  assert.ok(ini.includes('dhparam=dhparams.pem'))
  assert.match(files['config/dhparams.pem']!, /^-----BEGIN DH PARAMETERS-----\n[\s\S]+-----END DH PARAMETERS-----\n$/)
})

test("a gateway's smarthost is a host Haraka must use verified TLS with; nothing is forced without one", () => {
  const gateway = (c: ReturnType<typeof defaults>) => (c.gateway.enabled = true)
  const config = defaults('town.example', { root: false })
  gateway(config)
  const withSmarthost = renderHarakaConfig({ config, paths, pluginDir: '/x', smarthostHost: 'smtp.relay.example' })['config/tls.ini']!
  assert.match(withSmarthost, /^\[outbound\]\n(?:;.*\n)*force_tls_hosts=smtp\.relay\.example$/m)
  assert.ok(!/force_tls_hosts/.test(settings(renderHarakaConfig({ config, paths, pluginDir: '/x' })['config/tls.ini']!).join('\n')))
  // A node that is no gateway sends nothing by Haraka's outbound at all.
  assert.ok(!/force_tls_hosts/.test(render()['config/tls.ini']!))
  assert.throws(() => renderHarakaConfig({ config, paths, pluginDir: '/x', smarthostHost: 'a;b' }), /force_tls_hosts/)
})

test('the size limit comes from outpost.toml', () => {
  const ini = render((c) => (c.limits.max_message_bytes = 123456))['config/connection.ini']!
  assert.match(ini, /^\[max\]\n(?:;.*\n)*bytes=123456$/m)
})

test("Haraka's own outbound delivery is off", () => {
  assert.ok(settings(render()['config/outbound.ini']!).includes('disabled=true'))
})

test('me is the mail domain', () => {
  assert.equal(render()['config/me'], 'camp.test\n')
})

test('outpost.ini carries what the plugins need and parses back', () => {
  const text = render((c) => {
    c.limits.send_per_minute = 7
    c.limits.send_burst = 2
    c.limits.max_recipients = 5
  })['config/outpost.ini']!
  const ini: Record<string, Record<string, string>> = {}
  let section = 'main'
  for (const line of settings(text)) {
    const m = /^\[(.+)\]$/.exec(line)
    if (m) section = m[1]!
    else {
      const [k, ...v] = line.split('=')
      ;(ini[section] ??= {})[k!] = v.join('=')
    }
  }
  const s = parseSettings(ini)
  assert.equal(s.db, paths.db)
  assert.deepEqual(s.domains, ['camp.test'])
  assert.equal(s.lmtpSocket, paths.lmtpSocket)
  assert.equal(s.pidFile, join(paths.run, 'haraka.pid'))
  assert.equal(s.sendPerMinute, 7)
  assert.equal(s.sendBurst, 2)
  assert.equal(s.maxRecipients, 5)
  assert.equal(s.maxMessageBytes, 30 * 1024 * 1024)
})

test('parseSettings names a missing or bad key', () => {
  assert.throws(() => parseSettings({ main: {} }), /\[main\] db is missing/)
  assert.throws(
    () => parseSettings({ main: { db: 'x', domains: 'a', lmtp_socket: 's', mail_dir: 'm', spool_dir: 'sp', hostname: 'h', lmtp_timeout_seconds: '30' }, limits: { max_message_bytes: 'lots' } }),
    /\[limits\] max_message_bytes must be a whole number/,
  )
})

test('folder plugins point at the built bundles', () => {
  const files = render()
  for (const name of OUTPOST_PLUGINS) {
    const pkg = JSON.parse(files[`plugins/${name}/package.json`]!) as { main: string }
    assert.equal(pkg.main, `/opt/outpost/dist/haraka-plugins/${name}/index.cjs`)
  }
})

test('every non-default setting carries a comment above it', () => {
  for (const [file, text] of Object.entries(render())) {
    if (!file.endsWith('.ini')) continue
    const lines = text.split('\n')
    lines.forEach((line, i) => {
      if (!line || line.startsWith(';') || line.startsWith('[')) return
      // A run of settings shares the comment above its first line.
      let j = i - 1
      while (j >= 0 && lines[j] && !lines[j]!.startsWith(';') && !lines[j]!.startsWith('[')) j--
      assert.ok(j >= 0 && lines[j]?.startsWith(';'), `${file}: "${line}" has no comment`)
    })
  }
})

test('a value that would break the ini file is refused', () => {
  assert.throws(() => renderHarakaConfig({ config: defaults('camp.test', { root: false }), paths: nodePaths('/tmp/a;b'), pluginDir: '/x' }), /not allowed/)
})

test('writeHarakaConfig writes every file and the queue dir', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-haraka-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const p = nodePaths(dir)
  const files = renderHarakaConfig({ config: defaults('camp.test', { root: false }), paths: p, pluginDir: '/x' })
  writeHarakaConfig(p, files)
  for (const [rel, content] of Object.entries(files)) assert.equal(readFileSync(join(p.harakaDir, rel), 'utf8'), content)
  assert.ok(statSync(p.harakaQueue).isDirectory())
  assert.throws(() => writeHarakaConfig(p, { '../escape': 'x' }), /outside/)
})

test('a gateway listens on its inbound port too, turns outbound and DKIM signing on, and writes its keys privately', () => {
  const key = { domain: 'camp.test', selector: 's1', privatePem: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n' }
  const config = defaults('camp.test', { root: false })
  config.listen.address = '10.0.0.1'
  config.gateway.enabled = true
  config.gateway.static_mx = 'elsewhere.test=127.0.0.1:2526'
  const files = renderHarakaConfig({ config, paths, pluginDir: '/opt/outpost/dist/haraka-plugins', dkimKeys: [key] })
  assert.match(files['config/smtp.ini']!, /^listen=10\.0\.0\.1:1587,10\.0\.0\.1:1465,10\.0\.0\.1:2525$/m)
  assert.deepEqual(settings(files['config/plugins']!), ['tls', ...OUTPOST_PLUGINS, 'outpost_inbound_auth', 'outpost_uplink', 'dkim'])
  assert.match(files['config/outbound.ini']!, /^disabled=false$/m)
  const dkim = iniOf(files['config/dkim.ini']!)
  assert.equal(dkim.sign?.enabled, 'true')
  assert.equal(dkim.verify?.enabled, 'false')
  assert.match(dkim.sign?.headers ?? '', /^From,.*Subject,Date,Message-ID,To/)
  assert.equal(files['config/dkim/camp.test/selector'], 's1\n')
  const s = parseSettings(iniOf(files['config/outpost.ini']!))
  assert.deepEqual(s.gateway, { enabled: true, inboundPort: 2525, inboundDomains: [], inboundPerMinute: 30, inboundBurst: 10, staticMx: 'elsewhere.test=127.0.0.1:2526', keysDir: paths.keysDir, authTimeoutMs: 10_000 })
  assert.ok(!files['config/outpost.ini']!.includes('PRIVATE KEY'))

  const dir = mkdtempSync(join(tmpdir(), 'op-hk-'))
  try {
    const p = nodePaths(dir)
    writeHarakaConfig(p, files)
    assert.equal(statSync(join(p.harakaDir, 'config/dkim/camp.test/private')).mode & 0o777, 0o600)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('an ordinary node keeps outbound off and loads no gateway plugin', () => {
  const files = render()
  assert.match(files['config/outbound.ini']!, /^disabled=true$/m)
  assert.deepEqual(settings(files['config/plugins']!), ['tls', ...OUTPOST_PLUGINS])
  assert.equal(files['config/dkim.ini'], undefined)
  assert.equal(parseSettings(iniOf(files['config/outpost.ini']!)).gateway.enabled, false)
})

/** Sections and keys of a rendered ini file, as haraka-config reads them (values as strings). */
function iniOf(text: string): Record<string, Record<string, string>> {
  const ini: Record<string, Record<string, string>> = {}
  let section = 'main'
  for (const line of settings(text)) {
    const m = /^\[(.+)\]$/.exec(line)
    if (m) section = m[1]!
    else {
      const [k, ...v] = line.split('=')
      ;(ini[section] ??= {})[k!] = v.join('=')
    }
  }
  return ini
}
