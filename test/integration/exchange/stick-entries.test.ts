// A stick from a stranger: its file system may hold FIFOs, links to device
// nodes or to the box's secrets, folders named like bundles, names longer
// than any file system takes with a prefix, and files where folders should
// be. An import reads none of it through a link, never blocks, handles each
// entry on its own, and still imports the good bundles beside them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { campAndTown, type CampAndTown } from '../../helpers/stick.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { openNode } from '../../../server/context/context.js'
import { EventLog } from '../../../server/events/log.js'

/** Sends one message from alice to bob and exports it to the stick; the folder the bundle is in. */
async function goodBundleOnStick(scene: CampAndTown, messageId: string): Promise<string> {
  const c = smtpClient(scene.camp.ports.submission, scene.alice)
  await c.sendMail({ from: scene.alice.address, to: scene.bob.address, subject: 'beside the traps', text: 'made it\n', messageId })
  c.close()
  assert.equal((await scene.camp.cli(['export', scene.stick])).code, 0)
  return join(scene.stick, 'outpost', 'town')
}

function skippedEvents(data: string): string[] {
  const ctx = openNode(data)
  try {
    return new EventLog(ctx.db).recent({ kinds: ['bundle.skipped'] }).map((e) => (e.data as { file: string }).file.split('/').pop()!).sort()
  } finally {
    ctx.close()
  }
}

function quarantineFiles(data: string): string[] {
  try {
    return readdirSync(join(data, 'quarantine'))
  } catch {
    return []
  }
}

test('stick import: a FIFO and links (to /dev/zero, to a secret) are left unread, the import returns, and the good bundle beside them arrives', { timeout: 300_000 }, async () => {
  const scene = await campAndTown()
  const { town, bob, stick } = scene
  const secretDir = mkdtempSync(join(tmpdir(), 'op-secret-'))
  try {
    const folder = await goodBundleOnStick(scene, '<traps1@camp.test>')
    // Named to sort before the good bundle, so each is met first.
    execFileSync('mkfifo', [join(folder, 'a-fifo.obundle')])
    symlinkSync('/dev/zero', join(folder, 'b-zero.obundle'))
    const secret = join(secretDir, 'shadow')
    writeFileSync(secret, 'root:SECRET-HASH-7f3a:19000:0:99999:7:::\n', { mode: 0o600 })
    symlinkSync(secret, join(folder, 'b-secret.obundle'))

    const started = Date.now()
    // runCli gives up after 60 s: a FIFO opened for reading blocked the import for good.
    const imp = await town.cli(['import', stick])
    console.log(`# import beside a FIFO and links took ${Date.now() - started} ms (exit ${imp.code})`)
    assert.equal(imp.code, 1, `skipped entries make the exit code non-zero: ${imp.stdout}${imp.stderr}`)
    assert.match(imp.stdout, /a-fifo\.obundle: SKIPPED, .*named pipe \(FIFO\), not a plain file/)
    assert.match(imp.stdout, /b-zero\.obundle: SKIPPED, .*symbolic link/)
    assert.match(imp.stdout, /b-secret\.obundle: SKIPPED, .*symbolic link/)
    assert.match(imp.stdout, /1 delivered here/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<traps1@camp.test>'), 1)
    // Nothing read through a link reached the data dir.
    for (const f of quarantineFiles(town.data)) assert.doesNotMatch(readFileSync(join(town.data, 'quarantine', f), 'latin1'), /SECRET-HASH/)
    // The traps are left where they were, for a person to look at, and each is on the activity log.
    assert.deepEqual(readdirSync(folder).sort(), ['a-fifo.obundle', 'b-secret.obundle', 'b-zero.obundle'])
    assert.deepEqual(skippedEvents(town.data), ['a-fifo.obundle', 'b-secret.obundle', 'b-zero.obundle'])
  } finally {
    rmSync(secretDir, { recursive: true, force: true })
    await scene.destroy()
  }
})

test('stick import: a folder named like a bundle, a name too long for quarantine and a file where a peer folder should be each get a reason, and the rest imports', { timeout: 300_000 }, async () => {
  const scene = await campAndTown()
  const { town, bob, stick } = scene
  try {
    const folder = await goodBundleOnStick(scene, '<odd1@camp.test>')
    mkdirSync(join(folder, 'b-folder.obundle'))
    // 255 bytes, the most a name may have: quarantine adds a time stamp to it.
    const long = `a${'x'.repeat(255 - 'a'.length - '.obundle'.length)}.obundle`
    writeFileSync(join(folder, long), 'not a bundle\n')
    // camp is town's peer: a file where the folder for camp's bundles should be.
    writeFileSync(join(stick, 'outpost', 'camp'), 'not a folder\n')

    const imp = await town.cli(['import', stick])
    assert.equal(imp.code, 1, `${imp.stdout}${imp.stderr}`)
    assert.doesNotMatch(imp.stderr, /at .*\.js:\d+/, 'no stack trace')
    assert.match(imp.stdout, /b-folder\.obundle: SKIPPED, .*folder, not a plain file/)
    assert.match(imp.stdout, /camp: SKIPPED, .*a file where the folder of bundles for camp should be/)
    assert.match(imp.stdout, /axxx+\.obundle: QUARANTINED/)
    assert.match(imp.stdout, /1 delivered here/)
    assert.equal(messageIdCounts(town.data, bob.address).get('<odd1@camp.test>'), 1)
    assert.equal(quarantineFiles(town.data).filter((f) => f.endsWith('.reason.txt')).length, 1)
    assert.deepEqual(skippedEvents(town.data), ['b-folder.obundle', 'camp'])
  } finally {
    await scene.destroy()
  }
})
