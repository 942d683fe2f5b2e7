// The shipped systemd units: systemd-analyze verify accepts each of them,
// and every hardening line says what it is for.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EXPORT_ENV, NODE_FLAGS } from '../../../server/base/v8-flags.js'

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

test('the node may open a LoRa radio\'s serial port, and no other device', () => {
  const lines = readFileSync(new URL('outpost.service', dir), 'utf8').split('\n')
  // PrivateDevices=yes would leave no /dev/ttyACM0 to open.
  assert.ok(lines.includes('PrivateDevices=no') && !lines.includes('PrivateDevices=yes'))
  assert.ok(lines.includes('DevicePolicy=closed'), 'devices not allowed below stay refused')
  const allowed = lines.filter((l) => l.startsWith('DeviceAllow=')).sort()
  assert.deepEqual(allowed, ['DeviceAllow=char-ttyACM rw', 'DeviceAllow=char-ttyAMA rw', 'DeviceAllow=char-ttyUSB rw'])
  assert.ok(lines.includes('SupplementaryGroups=dialout'), 'serial ports belong to the dialout group')
  for (const h of ['DevicePolicy=closed', 'SupplementaryGroups=dialout']) {
    let j = lines.indexOf(h) - 1
    while (j > 0 && /^[A-Za-z]+=/.test(lines[j]!)) j--
    assert.match(lines[j]!, /^#/, `${h} has a comment saying why`)
  }
})

test('every service has a memory limit for a 1 GB Pi and a system call filter, each with its reason', () => {
  for (const u of units.filter((f) => f.endsWith('.service'))) {
    const lines = readFileSync(new URL(u, dir), 'utf8').split('\n')
    const max = lines.find((l) => l.startsWith('MemoryMax='))
    assert.ok(max, `${u} sets MemoryMax=`)
    const mb = Number(/^MemoryMax=(\d+)M$/.exec(max)?.[1])
    assert.ok(mb > 0 && mb <= 640, `${u}: ${max} leaves room on a 1 GB Pi`)
    for (const h of [max, 'SystemCallFilter=@system-service', 'SystemCallErrorNumber=EPERM']) {
      const i = lines.indexOf(h)
      assert.ok(i > 0, `${u} sets ${h}`)
      let j = i - 1
      while (j > 0 && i - j <= 3 && /^[A-Za-z]+=/.test(lines[j]!)) j--
      assert.match(lines[j]!, /^#/, `${u}: ${h} has a comment saying why`)
    }
  }
})

test('the node starts with the same V8 flags wherever it is started: the unit, quickstart.sh, the tests', () => {
  const exec = readFileSync(new URL('outpost.service', dir), 'utf8').split('\n').find((l) => l.startsWith('ExecStart='))!
  assert.equal(exec, `ExecStart=/usr/bin/node ${NODE_FLAGS.join(' ')} /usr/lib/outpost/bin/outpost.mjs start --data /var/lib/outpost`)
  const quick = readFileSync(new URL('../quickstart.sh', dir), 'utf8')
  assert.match(quick, new RegExp(`^exec node ${NODE_FLAGS.join(' ')} bin/outpost\\.mjs start --data "\\$DATA"$`, 'm'))
})

test('the USB offload, which exports the whole outbox, runs with the node\'s V8 flags and its export environment, in one process', () => {
  const lines = readFileSync(new URL('outpost-usb@.service', dir), 'utf8').split('\n')
  const exec = lines.find((l) => l.startsWith('ExecStart='))!
  assert.equal(exec, `ExecStart=/usr/bin/node ${NODE_FLAGS.join(' ')} /usr/lib/outpost/bin/outpost.mjs usb offload /run/outpost/usb/%i --data /var/lib/outpost`)
  // With all of it given, bin/outpost.mjs does not start the offload a second time.
  for (const [k, v] of Object.entries(EXPORT_ENV)) assert.ok(lines.includes(`Environment=${k}=${v}`), `Environment=${k}=${v}`)
})

test('the appliance daemon unit is hardened like the node, each setting with its reason', () => {
  const lines = readFileSync(new URL('outpost-appliance.service', dir), 'utf8').split('\n')
  const hardening = ['ProtectSystem=strict', 'ReadWritePaths=/var/lib/outpost', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'PrivateNetwork=yes', 'DevicePolicy=closed', 'User=outpost', 'Restart=always']
  for (const h of hardening) {
    const i = lines.indexOf(h)
    assert.ok(i > 0, `${h} is set`)
    let j = i - 1
    while (j > 0 && i - j <= 3 && /^[A-Za-z]+=/.test(lines[j]!)) j--
    assert.match(lines[j]!, /^#/, `${h} has a comment saying why`)
  }
  assert.ok(!lines.some((l) => /^MemoryDenyWriteExecute=/.test(l)))
  assert.ok(lines.includes('ExecStart=/usr/bin/node --max-semi-space-size=1 /usr/lib/outpost/bin/outpost.mjs appliance run --data /var/lib/outpost'))
})

test('the polkit rule lets the outpost user start a stick offload and power off, and nothing else', async () => {
  const { runInNewContext } = await import('node:vm')
  const source = readFileSync(new URL('../../../appliance/50-outpost.rules', import.meta.url), 'utf8')
  const rules: ((action: unknown, subject: unknown) => string)[] = []
  const Result = { YES: 'yes', NO: 'no', NOT_HANDLED: 'not-handled' }
  // polkitd runs the file as JavaScript with a `polkit` object; the same, in a sandbox.
  runInNewContext(source, { polkit: { Result, addRule: (f: (a: unknown, s: unknown) => string) => rules.push(f) } })
  assert.equal(rules.length, 1)
  const ask = (user: string, id: string, details: Record<string, string> = {}) => rules[0]!({ id, lookup: (k: string) => details[k] }, { user })
  const manage = 'org.freedesktop.systemd1.manage-units'
  assert.equal(ask('outpost', manage, { verb: 'start', unit: 'outpost-usb@sdb1.service' }), 'yes')
  assert.equal(ask('outpost', 'org.freedesktop.login1.power-off'), 'yes')
  assert.equal(ask('outpost', manage, { verb: 'stop', unit: 'outpost-usb@sdb1.service' }), 'not-handled')
  assert.equal(ask('outpost', manage, { verb: 'start', unit: 'ssh.service' }), 'not-handled')
  assert.equal(ask('outpost', manage, { verb: 'start', unit: 'outpost-usb@../x.service' }), 'not-handled')
  assert.equal(ask('outpost', 'org.freedesktop.login1.reboot'), 'not-handled')
  assert.equal(ask('alice', 'org.freedesktop.login1.power-off'), 'not-handled')
})
