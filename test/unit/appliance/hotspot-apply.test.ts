// `outpost hotspot apply` with its files in a temp dir and a recorded exec
// standing in for ip, rfkill and systemctl: which files a box gets, with
// which modes, and which commands run, in order. Not run for real in CI
// (it needs a Wi-Fi radio and root on a box).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Exec } from '../../../server/base/exec.js'
import { defaults, type NodeConfig } from '../../../server/config/schema.js'
import { HotspotError, renderDnsmasqConf, renderHostapdConf } from '../../../server/appliance/hotspot.js'
import { applyHotspot, renderAvahiService, type HotspotPaths } from '../../../server/appliance/hotspot-apply.js'

function box(hotspot: Partial<NodeConfig['hotspot']> = {}): NodeConfig {
  const c = defaults('camp.test', { root: true })
  return { ...c, node: { ...c.node, name: 'camp' }, hotspot: { ...c.hotspot, enabled: true, passphrase: 'correct horse battery', country: 'DE', ...hotspot } }
}

function scene(fail: Record<string, number> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'op-hotspot-'))
  const paths: HotspotPaths = {
    hostapd: join(dir, 'etc/hostapd/hostapd.conf'),
    dnsmasq: join(dir, 'etc/dnsmasq.d/outpost.conf'),
    avahiService: join(dir, 'etc/avahi/services/outpost.service'),
    mdnsEnv: join(dir, 'run/outpost/hotspot.env'),
  }
  const calls: string[] = []
  const envs = new Map<string, NodeJS.ProcessEnv | undefined>()
  const exec: Exec = async (file, args, opts) => {
    const line = [file, ...args].join(' ')
    calls.push(line)
    envs.set(line, opts?.env)
    const code = fail[line] ?? 0
    return { code, stdout: '', stderr: code ? 'Failed to restart hostapd.service: Unit hostapd.service is masked.' : '' }
  }
  const lines: string[] = []
  return { dir, paths, calls, envs, exec, lines, log: (l: string) => lines.push(l), done: () => rmSync(dir, { recursive: true, force: true }) }
}

test('the first apply writes every file (hostapd.conf readable by root only), sets the address and restarts the services', async () => {
  const s = scene()
  try {
    const config = box()
    const r = await applyHotspot(config, { exec: s.exec, log: s.log, paths: s.paths })
    assert.equal(r.applied, true)
    assert.equal(readFileSync(s.paths.hostapd, 'utf8'), renderHostapdConf(config.hotspot))
    assert.equal(statSync(s.paths.hostapd).mode & 0o777, 0o600, 'the passphrase is in it')
    assert.equal(readFileSync(s.paths.dnsmasq, 'utf8'), renderDnsmasqConf(config.hotspot))
    assert.equal(readFileSync(s.paths.mdnsEnv, 'utf8').split('\n')[1], 'OUTPOST_HOTSPOT_ADDRESS=10.42.0.1')
    assert.match(readFileSync(s.paths.avahiService, 'utf8'), /<type>_https\._tcp<\/type>\n {4}<port>443<\/port>/)
    assert.deepEqual(s.calls, [
      'rfkill unblock wlan',
      'ip address replace 10.42.0.1/24 dev wlan0',
      'ip link set dev wlan0 up',
      'systemctl unmask hostapd.service',
      'systemctl enable hostapd.service dnsmasq.service outpost-hotspot-mdns.service',
      'systemctl restart hostapd.service',
      'systemctl restart dnsmasq.service',
      'systemctl restart outpost-hotspot-mdns.service',
    ])
    assert.deepEqual(readdirSync(join(s.dir, 'etc/hostapd')), ['hostapd.conf'], 'no tmp file is left beside it')
    // In outpost-hotspot.service's sandbox /etc/rc?.d is read-only: the enable must not touch the SysV scripts.
    assert.equal(s.envs.get('systemctl enable hostapd.service dnsmasq.service outpost-hotspot-mdns.service')?.SYSTEMCTL_SKIP_SYSV, '1')
  } finally {
    s.done()
  }
})

test('applying again with the same settings restarts nothing; a new passphrase restarts hostapd only', async () => {
  const s = scene()
  try {
    await applyHotspot(box(), { exec: s.exec, log: s.log, paths: s.paths })
    s.calls.length = 0
    const again = await applyHotspot(box(), { exec: s.exec, log: s.log, paths: s.paths })
    assert.deepEqual(again.changed, [])
    assert.deepEqual(s.calls.filter((c) => c.startsWith('systemctl re')), [], 'phones stay connected')
    assert.ok(s.calls.includes('systemctl start hostapd.service'), 'a stopped hostapd is started')
    s.calls.length = 0
    const changed = await applyHotspot(box({ passphrase: 'a new passphrase for camp' }), { exec: s.exec, log: s.log, paths: s.paths })
    assert.deepEqual(changed.changed, [s.paths.hostapd])
    assert.deepEqual(s.calls.slice(-3), ['systemctl restart hostapd.service', 'systemctl start dnsmasq.service', 'systemctl start outpost-hotspot-mdns.service'])
    assert.match(readFileSync(s.paths.hostapd, 'utf8'), /^wpa_passphrase=a new passphrase for camp$/m)
  } finally {
    s.done()
  }
})

test('run by outpost-hotspot.service, which hostapd and dnsmasq are ordered after, the starts are queued, not waited for', async () => {
  const s = scene()
  try {
    await applyHotspot(box(), { exec: s.exec, log: s.log, paths: s.paths, queueStarts: true })
    assert.deepEqual(s.calls.slice(-3), ['systemctl --no-block restart hostapd.service', 'systemctl --no-block restart dnsmasq.service', 'systemctl --no-block restart outpost-hotspot-mdns.service'])
  } finally {
    s.done()
  }
})

test('a disabled hotspot touches nothing; a bad setting is refused before any file or command', async () => {
  const s = scene()
  try {
    const off = await applyHotspot(box({ enabled: false }), { exec: s.exec, log: s.log, paths: s.paths })
    assert.equal(off.applied, false)
    assert.match(s.lines.join('\n'), /enabled = false; nothing applied/)
    await assert.rejects(applyHotspot(box({ passphrase: 'short' }), { exec: s.exec, log: s.log, paths: s.paths }), (e: Error) => e instanceof HotspotError && /passphrase: must be 8 to 63/.test(e.message))
    assert.deepEqual(s.calls, [])
    assert.equal(existsSync(s.paths.hostapd), false)
  } finally {
    s.done()
  }
})

test('a failing step says which command failed and why', async () => {
  const s = scene({ 'systemctl restart hostapd.service': 1 })
  try {
    await assert.rejects(applyHotspot(box(), { exec: s.exec, log: s.log, paths: s.paths }), /systemctl restart hostapd\.service failed \(exit 1\): Failed to restart hostapd\.service: Unit hostapd\.service is masked/)
  } finally {
    s.done()
  }
})

test('the avahi service file is well-formed XML with the node name escaped', () => {
  const c = box()
  const xml = renderAvahiService({ ...c, node: { ...c.node, name: 'camp<&>' } })
  assert.match(xml, /<name>Outpost camp&lt;&amp;&gt; on %h<\/name>/)
  const dir = mkdtempSync(join(tmpdir(), 'op-avahi-'))
  try {
    // xmllint where libxml2-utils is installed would say more; python's parser is always there with Debian's python3.
    const f = join(dir, 'outpost.service')
    writeFileSync(f, xml)
    execFileSync('python3', ['-c', 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])', f])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the web admin saves a new SSID and passphrase into outpost.toml, checked first; a bad one leaves the file as it was', async () => {
  const { initNode } = await import('../../../server/node/init.js')
  const { exec } = await import('../../../server/base/exec.js')
  const { loadConfig, saveConfig } = await import('../../../server/config/file.js')
  const { openNode } = await import('../../../server/context/context.js')
  const { SettingsService } = await import('../../../server/admin/settings.js')
  const dir = mkdtempSync(join(tmpdir(), 'op-hotspot-save-'))
  try {
    const { paths } = await initNode({ data: join(dir, 'n'), domain: 'camp.test', host: '127.0.0.1' }, exec)
    const node = openNode(paths.data)
    try {
      const settings = new SettingsService(node)
      settings.update({ hotspot: { ssid: 'Camp Nord' } })
      // The hotspot is switched on without a country (a box set up by hand): a change is refused, and nothing is written.
      const { config } = loadConfig(paths.config, {})
      saveConfig(paths.config, { ...config, hotspot: { ...config.hotspot, enabled: true, country: '' } })
      const before = readFileSync(paths.config, 'utf8')
      assert.throws(() => settings.update({ hotspot: { passphrase: 'long enough passphrase' } }), /country/)
      assert.equal(readFileSync(paths.config, 'utf8'), before)
      saveConfig(paths.config, { ...config, hotspot: { ...config.hotspot, enabled: false, ssid: 'Camp Nord' } })
      const r = settings.update({ hotspot: { passphrase: 'long enough passphrase' } })
      assert.equal(r.hotspot.passphraseSet, true)
      const h = loadConfig(paths.config, {}).config.hotspot
      assert.equal(h.ssid, 'Camp Nord')
      assert.equal(h.passphrase, 'long enough passphrase')
      assert.equal(statSync(paths.config).mode & 0o777, 0o640, 'the passphrase is not readable by other users')
    } finally {
      node.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
