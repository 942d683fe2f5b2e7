// `outpost admin password`: the way back into the web admin from the box's
// terminal; `outpost admin setup-code`: the code that claims a new box.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OUTPOST_BIN, runCli } from '../../helpers/node.js'
import { openDb } from '../../../server/db/index.js'
import { AdminAuth } from '../../../server/admin/auth.js'

function withStdin(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [OUTPOST_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d) => (stdout += d))
    p.stderr.on('data', (d) => (stderr += d))
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }))
    p.stdin.end(input)
  })
}

test('admin password --password-stdin sets the password, a reset logs every session out, a short one is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-admin-'))
  try {
    assert.equal((await runCli(['init', '--data', dir, '--domain', 'camp.test', '--host', '127.0.0.1'])).code, 0)
    let r = await withStdin(['admin', 'password', '--password-stdin', '--data', dir], 'first admin password\n')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Admin password set/)
    const db = openDb(join(dir, 'outpost.db'))
    try {
      const auth = new AdminAuth(db)
      assert.equal(await auth.verify('first admin password'), true)
      const { id } = auth.createSession()

      r = await withStdin(['admin', 'password', '--password-stdin', '--data', dir], 'forgot it, new one\n')
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /reset; everyone .* logged out/)
      assert.equal(await auth.verify('forgot it, new one'), true)
      assert.equal(await auth.verify('first admin password'), false)
      assert.equal(auth.session(id, { touch: false }), undefined, 'the old session is gone')

      r = await withStdin(['admin', 'password', '--password-stdin', '--data', dir], 'short\n')
      assert.equal(r.code, 1)
      assert.match(r.stderr, /at least 10 characters/)
      assert.equal(await auth.verify('forgot it, new one'), true, 'unchanged')

      r = await runCli(['admin', 'passwd', '--data', dir])
      assert.equal(r.code, 2)
      assert.match(r.stderr, /unknown admin command/)
    } finally {
      db.$client.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('init prints the setup code, admin setup-code shows the same until a password is set on the box, then there is none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-admin-'))
  try {
    const init = await runCli(['init', '--data', dir, '--domain', 'camp.test', '--host', '127.0.0.1'])
    assert.equal(init.code, 0, init.stderr)
    const printed = /setup code: ([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})/.exec(init.stdout)?.[1]
    assert.ok(printed, init.stdout)
    const file = join(dir, 'setup-code')
    assert.equal(readFileSync(file, 'utf8').trim(), printed)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    let r = await runCli(['admin', 'setup-code', '--data', dir])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), printed)
    assert.match(r.stderr, /https:\/\/127\.0\.0\.1:\d+\//)

    r = await withStdin(['admin', 'password', '--password-stdin', '--data', dir], 'set on the box itself\n')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(existsSync(file), false, 'the code is spent')
    r = await runCli(['admin', 'setup-code', '--data', dir])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /already has a password, so there is no setup code/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
