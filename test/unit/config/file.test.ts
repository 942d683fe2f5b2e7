import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parse } from 'smol-toml'
import { configFromObject, renderConfig, ConfigError } from '../../../server/config/file.js'
import { defaults, HIGH_PORTS, STANDARD_PORTS, SPEC } from '../../../server/config/schema.js'

test('defaults: high ports when not root, standard ports as root, chatmail limits', () => {
  assert.deepEqual(defaults('camp.test', { root: false }).ports, HIGH_PORTS)
  assert.deepEqual(defaults('camp.test', { root: true }).ports, STANDARD_PORTS)
  const d = defaults('camp.test')
  assert.equal(d.limits.max_message_bytes, 30 * 1024 * 1024)
  assert.equal(d.limits.send_per_minute, 60)
  assert.equal(d.limits.send_burst, 10)
  assert.equal(d.mail.expiry_days, 20)
  assert.equal(d.mail.large_expiry_days, 7)
})

test('the rendered file documents every key and reads back to the same config', () => {
  const c = defaults('camp.test', { root: false })
  const text = renderConfig(c)
  for (const [section, s] of Object.entries(SPEC)) {
    assert.match(text, new RegExp(`^\\[${section}\\]$`, 'm'))
    for (const [key, k] of Object.entries(s.keys)) {
      assert.ok(text.includes(`# ${k.doc}\n${key} = `), `${section}.${key} is documented`)
    }
  }
  const back = configFromObject(parse(text) as Record<string, unknown>, {})
  assert.deepEqual(back.config, c)
  assert.deepEqual(back.warnings, [])
})

test('unknown keys and sections warn, they are not silently ignored', () => {
  const r = configFromObject({ node: { domain: 'camp.test', colour: 'red' }, gadgets: {} }, {})
  assert.equal(r.warnings.length, 2)
  assert.match(r.warnings[0]!, /node\.colour/)
  assert.match(r.warnings[1]!, /\[gadgets\]/)
})

test('a wrong type is an error naming the key', () => {
  assert.throws(() => configFromObject({ node: { domain: 'camp.test' }, ports: { web: 'eighty' } }, {}), (e: Error) => e instanceof ConfigError && /ports\.web/.test(e.message))
  assert.throws(() => configFromObject({ node: { domain: 'camp.test' }, ports: { web: 70000 } }, {}), /above the maximum/)
  assert.throws(() => configFromObject({ node: {} }, {}), /domain is required/)
})

test('a key with a fixed set of values takes only those, from the file and the environment', () => {
  assert.equal(configFromObject({ node: { domain: 'camp.test' } }, {}).config.smtp.haraka, 'child')
  assert.equal(configFromObject({ node: { domain: 'camp.test' }, smtp: { haraka: 'in-process' } }, {}).config.smtp.haraka, 'in-process')
  assert.equal(configFromObject({ node: { domain: 'camp.test' } }, { OUTPOST_SMTP_HARAKA: 'in-process' }).config.smtp.haraka, 'in-process')
  assert.throws(() => configFromObject({ node: { domain: 'camp.test' }, smtp: { haraka: 'thread' } }, {}), (e: Error) => e instanceof ConfigError && /smtp\.haraka: expected one of "child", "in-process", got "thread"/.test(e.message))
  assert.throws(() => configFromObject({ node: { domain: 'camp.test' } }, { OUTPOST_SMTP_HARAKA: 'process' }), /OUTPOST_SMTP_HARAKA/)
})

test('environment overrides any key', () => {
  const r = configFromObject({ node: { domain: 'camp.test' } }, { OUTPOST_PORTS_WEB: '9443' })
  assert.equal(r.config.ports.web, 9443)
  assert.throws(() => configFromObject({ node: { domain: 'camp.test' } }, { OUTPOST_PORTS_WEB: 'x' }), /OUTPOST_PORTS_WEB/)
})

test('docs/configuration.md is generated from the schema and up to date', async () => {
  const { readFileSync } = await import('node:fs')
  const { renderConfigDoc } = await import('../../../server/config/file.js')
  const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8')
  assert.equal(doc, renderConfigDoc(), 'regenerate docs/configuration.md from renderConfigDoc()')
})
