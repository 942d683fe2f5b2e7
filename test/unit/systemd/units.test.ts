// The shipped systemd units: systemd-analyze verify accepts each of them,
// and every hardening line says what it is for.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = new URL('../../../systemd/', import.meta.url)
const units = readdirSync(dir).filter((f) => /\.(service|socket|timer|path)$/.test(f))

test('systemd-analyze verify accepts every unit', () => {
  assert.ok(units.length > 0)
  const tmp = mkdtempSync(join(tmpdir(), 'op-units-'))
  try {
    for (const u of units) {
      // Template units are verified as one instance of themselves.
      const name = u.includes('@.') ? u.replace('@.', '@sdb1.') : u
      writeFileSync(join(tmp, name), readFileSync(new URL(u, dir)))
      const out = execFileSync('systemd-analyze', ['verify', join(tmp, name)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      assert.equal(out.trim(), '', `${u}: ${out}`)
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

test('the node unit is hardened, each setting with its reason, and never sets MemoryDenyWriteExecute', () => {
  const text = readFileSync(new URL('outpost.service', dir), 'utf8')
  const lines = text.split('\n')
  const hardening = ['ProtectSystem=strict', 'ReadWritePaths=/var/lib/outpost', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'User=outpost']
  for (const h of hardening) {
    const i = lines.indexOf(h)
    assert.ok(i > 0, `${h} is set`)
    // A comment may cover a small group of settings that serve one purpose.
    let j = i - 1
    while (j > 0 && i - j <= 3 && /^[A-Za-z]+=/.test(lines[j]!)) j--
    assert.match(lines[j]!, /^#/, `${h} has a comment saying why`)
  }
  assert.ok(!lines.some((l) => /^MemoryDenyWriteExecute=/.test(l)), 'V8 aborts with MemoryDenyWriteExecute')
  assert.match(readFileSync(new URL('outpost.sysusers', dir), 'utf8'), /^u outpost - /m)
})
