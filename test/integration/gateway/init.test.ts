// `outpost init --gateway`: the node is a gateway from the start, and the
// DKIM record to publish is printed before it ever runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../../helpers/node.js'

test('init --gateway turns the gateway on and prints the DKIM record', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-gwinit-'))
  try {
    const data = join(dir, 'node')
    const r = await runCli(['init', '--data', data, '--domain', 'town.example', '--gateway', '--listen', '127.0.0.1', '--host', '127.0.0.1'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\._domainkey\.town\.example\. IN TXT \( "v=DKIM1; k=rsa; p=/)
    assert.match(readFileSync(join(data, 'outpost.toml'), 'utf8'), /^\[gateway\][^[]*^enabled = true$/m)
    const again = await runCli(['dkim', '--data', data])
    assert.equal(again.code, 0, again.stderr)
    assert.equal(/IN TXT .*$/m.exec(again.stdout)![0], /IN TXT .*$/m.exec(r.stdout)![0], '`outpost dkim` shows the same key, not a new one')
    const plain = await runCli(['init', '--data', join(dir, 'plain'), '--domain', 'camp.test', '--listen', '127.0.0.1', '--host', '127.0.0.1'])
    assert.doesNotMatch(plain.stdout, /DKIM/)
    assert.match(readFileSync(join(dir, 'plain', 'outpost.toml'), 'utf8'), /^\[gateway\][^[]*^enabled = false$/m)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
