import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync, readlinkSync, lstatSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { choosePush, describePush, preparePushModuleDir, pushModuleDir, pushPluginBuildDir, PUSH_PLUGIN_FILE } from '../../../server/dovecot/push.js'
import { renderDovecotConf, SUPPORTED_DOVECOT_VERSIONS } from '../../../server/dovecot/config.js'
import { nodePaths } from '../../../server/base/paths.js'
import { defaults } from '../../../server/config/schema.js'

const V23 = '2.3.19.1 (9b53102964)'

function builds(version: string, what: { so?: boolean; stamp?: string } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'push-builds-'))
  const dir = pushPluginBuildDir(root, version)
  mkdirSync(dir, { recursive: true })
  if (what.so !== false) writeFileSync(join(dir, PUSH_PLUGIN_FILE), 'ELF')
  writeFileSync(join(dir, 'dovecot-version'), (what.stamp ?? version) + '\n')
  return root
}

test('a build folder is named after the exact dovecot --version line, as build.sh names it', () => {
  assert.equal(pushPluginBuildDir('/b', V23), '/b/2.3.19.1-9b53102964')
  assert.equal(pushPluginBuildDir('/b', '2.4.1-4 (7d8c0e5759)\n'), '/b/2.4.1-4-7d8c0e5759')
})

test('the plugin is chosen only when built for exactly this Dovecot, and the log line says which push runs', () => {
  const ok = builds(V23)
  const push = choosePush({ builds: ok, installed: V23, env: {} })
  assert.deepEqual(push, { kind: 'plugin', file: join(pushPluginBuildDir(ok, V23), PUSH_PLUGIN_FILE) })
  assert.match(describePush(push), /^IDLE push: at once, by the outpost_push Dovecot plugin/)

  // Another Dovecot (an upgrade since the build): stock, and how to rebuild.
  const other = choosePush({ builds: ok, installed: '2.3.21 (47349e2482)', env: {} })
  assert.equal(other.kind, 'stock')
  assert.match(describePush(other), /stock Dovecot, after its built-in 0\.5 s wait \(the outpost_push plugin is not built for Dovecot 2\.3\.21 .*build\.sh/)
  // A half-made build or one whose stamp disagrees is not trusted.
  assert.equal(choosePush({ builds: builds(V23, { so: false }), installed: V23, env: {} }).kind, 'stock')
  assert.equal(choosePush({ builds: builds(V23, { stamp: '2.3.19 (aaaa)' }), installed: V23, env: {} }).kind, 'stock')
  // Switched off, or a value that means nothing: stock, saying why.
  assert.deepEqual(choosePush({ builds: ok, installed: V23, env: { OUTPOST_DOVECOT_PUSH: 'stock' } }), { kind: 'stock', why: 'OUTPOST_DOVECOT_PUSH=stock' })
  assert.match(describePush(choosePush({ builds: ok, installed: V23, env: { OUTPOST_DOVECOT_PUSH: 'fast' } })), /"fast" is not "auto" or "stock"/)
  assert.equal(choosePush({ builds: ok, installed: V23, env: { OUTPOST_DOVECOT_PUSH: 'auto' } }).kind, 'plugin')
})

test("the node's module folder links every stock module and holds a copy of the plugin", () => {
  const tmp = mkdtempSync(join(tmpdir(), 'push-mods-'))
  try {
    const stock = join(tmp, 'stock')
    mkdirSync(join(stock, 'auth'), { recursive: true })
    for (const f of ['lib10_quota_plugin.so', 'lib11_imap_quota_plugin.so']) writeFileSync(join(stock, f), '')
    const plugin = join(tmp, PUSH_PLUGIN_FILE)
    writeFileSync(plugin, 'ELF')
    const paths = nodePaths(join(tmp, 'data'))
    const dir = preparePushModuleDir(paths, stock, plugin)
    assert.equal(dir, pushModuleDir(paths))
    assert.deepEqual(readdirSync(dir).sort(), ['lib10_quota_plugin.so', 'lib11_imap_quota_plugin.so', PUSH_PLUGIN_FILE])
    assert.equal(readlinkSync(join(dir, 'lib10_quota_plugin.so')), join(stock, 'lib10_quota_plugin.so'))
    assert.ok(lstatSync(join(dir, PUSH_PLUGIN_FILE)).isFile())
    // Made afresh: a module gone from Dovecot's folder is gone here too.
    rmSync(join(stock, 'lib11_imap_quota_plugin.so'))
    preparePushModuleDir(paths, stock, plugin)
    assert.deepEqual(readdirSync(dir).sort(), ['lib10_quota_plugin.so', PUSH_PLUGIN_FILE])
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

for (const version of SUPPORTED_DOVECOT_VERSIONS) {
  test(`${version}: the plugin is loaded for IMAP only, from the node's module folder, and only when push asks for it`, () => {
    const config = defaults('camp.test', { root: false })
    const paths = nodePaths('/srv/outpost')
    const input = { version, config, paths, user: { name: 'outpost', group: 'outpost', uid: 998, gid: 997 }, root: false }
    const stock = renderDovecotConf(input)['dovecot.conf']
    assert.doesNotMatch(stock, /outpost_push|mail_plugin_dir/)
    const conf = renderDovecotConf({ ...input, push: { moduleDir: '/srv/outpost/run/dovecot-modules' } })['dovecot.conf']
    const start = conf.indexOf('# --- IDLE push at once')
    assert.ok(start > 0)
    const section = conf.slice(start, conf.indexOf('\n}\n', start) + 2)
    assert.match(section, /^protocol imap \{$/m)
    assert.match(section, /^ {2}mail_plugin_dir = \/srv\/outpost\/run\/dovecot-modules$/m)
    assert.match(section, version === '2.3' ? /^ {2}mail_plugins = \$mail_plugins outpost_push$/m : /^ {2}mail_plugins \{\n {4}outpost_push = yes\n {2}\}$/m)
    // Nothing else changes (but for the blank line before the block).
    assert.equal(conf.replace(section, '').replace(/\n{3,}/g, '\n\n'), stock)
  })
}
