// Transports: the folder carrier from the CLI, and the scheduler in
// `outpost start` running an "event" transport as soon as mail waits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { befriend } from '../../helpers/stick.js'
import { waitFor } from '../../helpers/wait.js'

test('folder transport: add, run, list; the scheduler sends on event; bad settings are refused', { timeout: 300_000 }, async () => {
  const camp = await startNode({ domain: 'camp.test' })
  const town = await startNode({ domain: 'town.test' })
  const shared = mkdtempSync(join(tmpdir(), 'op-shared-'))
  try {
    await befriend(camp, town)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')

    let r = await camp.cli(['transport', 'add', 'town', 'folder', '--set', 'path=relative/dir'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /path must be absolute/)
    r = await camp.cli(['transport', 'add', 'town', 'folder'])
    assert.match(r.stderr, /setting "path" is required/)
    r = await camp.cli(['transport', 'add', 'nobody', 'folder', '--set', `path=${shared}`])
    assert.match(r.stderr, /"nobody" is not a peer/)
    r = await camp.cli(['transport', 'add', 'town', 'pigeon', '--set', `path=${shared}`])
    assert.match(r.stderr, /unknown transport kind "pigeon"/)
    r = await camp.cli(['transport', 'add', 'town', 'folder', '--set', `path=${shared}`, '--schedule', 'every tuesday'])
    assert.match(r.stderr, /not a cron expression/)

    r = await camp.cli(['transport', 'add', 'town', 'folder', '--set', `path=${shared}`, '--schedule', 'event'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /added transport 1: folder to town, schedule "event"/)
    r = await town.cli(['transport', 'add', 'camp', 'folder', '--set', `path=${shared}`])
    assert.equal(r.code, 0, r.stderr)

    // The running camp node picks the new transport up and exports on its own once mail waits.
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'by folder', text: 'hello\n', messageId: '<f1@camp.test>' })
    c.close()
    const folder = join(shared, 'outpost', 'town')
    await waitFor('a bundle in the shared folder', () => {
      try {
        return readdirSync(folder).some((n) => n.endsWith('.obundle'))
      } catch {
        return false // not made yet
      }
    }, { timeoutMs: 30_000, everyMs: 250 })
    assert.ok(readdirSync(folder).some((n) => n.endsWith('.obundle')), 'the scheduler exported without being asked')

    r = await town.cli(['transport', 'run', '1'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /imported 1 of 1 bundles/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<f1@camp.test>'), 1)

    const list = await town.cli(['transport', 'list'])
    assert.match(list.stdout, /^1\tcamp\tfolder\t"\*\/5 \* \* \* \*".*last run ok .* ago \([\d.]+ [KM]?i?B out, [\d.]+ [KM]?i?B in\); next run in \d+[smh]$/m)

    // A stick that is not plugged in: the run fails with a clear message and is recorded.
    rmSync(shared, { recursive: true, force: true })
    r = await town.cli(['transport', 'run', '1'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /is not there \(stick not plugged in/)
    assert.match((await town.cli(['transport', 'list'])).stdout, /last run FAILED/)
  } finally {
    rmSync(shared, { recursive: true, force: true })
    await Promise.all([camp.destroy(), town.destroy()])
  }
})
