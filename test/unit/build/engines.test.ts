// The box runs Debian's Node (20.19 on trixie and Raspberry Pi OS), but some
// dependencies declare Node 22 or later. npm only warns (EBADENGINE), so each
// such package is listed here with what it does for Outpost, and exercised
// on the Node running the test; the trixie tier runs this file on 20.19. A
// new package that declares a Node this test's floor does not meet fails
// here until someone has checked it works and listed it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const semver = require('semver') as { satisfies(v: string, range: string): boolean }
const ROOT = new URL('../../../', import.meta.url).pathname
const FLOOR = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node.replace(/^>=/, '').split('.').concat('0', '0').slice(0, 3).join('.')

/** Every installed package (nested ones too), as name@version → its engines.node. */
function installed(dir: string, out = new Map<string, string>()): Map<string, string> {
  if (!existsSync(dir)) return out
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue
    const pkgs = entry.startsWith('@') ? readdirSync(join(dir, entry)).map((n) => join(dir, entry, n)) : [join(dir, entry)]
    for (const p of pkgs) {
      const manifest = join(p, 'package.json')
      if (!existsSync(manifest)) continue
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string; engines?: { node?: string } }
      if (m.name && m.engines?.node) out.set(`${m.name}@${m.version}`, m.engines.node)
      installed(join(p, 'node_modules'), out)
    }
  }
  return out
}

// Checked to work on Node 20.19, each with the call below that proves it.
const CHECKED: Record<string, () => void | Promise<void>> = {
  // Haraka's address parser: every MAIL FROM and RCPT TO goes through it.
  '@haraka/email-address': async () => {
    const { parseFrom } = (await import('@haraka/email-address')) as unknown as { parseFrom(s: string): Array<{ address: string }> }
    assert.equal(parseFrom('Alice <alice@camp.test>')[0]?.address, 'alice@camp.test')
  },
  // Haraka's command-line parser (nopt, with abbrev): runs at every Haraka start.
  nopt: () => {
    const nopt = require('nopt') as (types: object, short: object, argv: string[], slice: number) => Record<string, unknown>
    assert.equal(nopt({ configs: String }, { c: ['--configs'] }, ['-c', '/x'], 0).configs, '/x')
  },
  abbrev: () => {
    const abbrev = require('abbrev') as (...w: string[]) => Record<string, string>
    assert.equal(abbrev('configs', 'help').c, 'configs')
  },
  // The web admin's session cookie (@fastify/cookie, light-my-request).
  cookie: () => {
    const { parseCookie, stringifySetCookie } = require('cookie') as { parseCookie(s: string): Record<string, string>; stringifySetCookie(c: object): string }
    assert.equal(parseCookie('outpost_session=abc; x=1').outpost_session, 'abc')
    assert.match(stringifySetCookie({ name: 's', value: 'v', httpOnly: true, secure: true }), /HttpOnly; Secure/)
  },
  // Download names of the web admin's static files (@fastify/static).
  'content-disposition': () => {
    const cd = require('content-disposition') as { create(name: string): string }
    assert.equal(cd.create('bundle.obundle'), 'attachment; filename=bundle.obundle')
  },
}

test(`every dependency that declares a Node newer than ${FLOOR} was checked to work on it`, async () => {
  const unmet = [...installed(join(ROOT, 'node_modules'))].filter(([, range]) => !semver.satisfies(FLOOR, range)).map(([id]) => id.slice(0, id.lastIndexOf('@')))
  const names = [...new Set(unmet)].sort()
  for (const name of names) {
    assert.ok(name in CHECKED, `${name} declares a Node that ${FLOOR} does not meet; check it works on ${FLOOR}, pin an older version, or replace it`)
  }
  // Each listed package still works on the Node running this test.
  for (const name of names) await CHECKED[name]!()
})
