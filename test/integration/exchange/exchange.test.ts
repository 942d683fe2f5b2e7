// Two real nodes exchange mail through a folder (a stand-in for a USB
// stick): export, import, acks back, dedup and quarantine of bad bundles.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { campAndTown } from '../../helpers/stick.js'
import { OUTPOST_BIN } from '../../helpers/node.js'
import { spawnSync } from 'node:child_process'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { WORK_SIGNAL } from '../../../server/outbox/outbox.js'

function bundlesIn(dir: string): string[] {
  const out: string[] = []
  let peers: string[]
  try {
    peers = readdirSync(join(dir, 'outpost'))
  } catch {
    return out
  }
  for (const p of peers) for (const f of readdirSync(join(dir, 'outpost', p))) out.push(join(dir, 'outpost', p, f))
  return out
}

test('camp and town exchange mail by folder: exactly once, acked, bad bundles quarantined', { timeout: 300_000 }, async () => {
  const scene = await campAndTown()
  const { camp, town, stick, alice, bob } = scene
  try {

    // Unroutable domains are still refused at RCPT.
    const c = smtpClient(camp.ports.submission, alice)
    await assert.rejects(c.sendMail({ from: alice.address, to: 'eve@nowhere.test', subject: 'x', text: 'x' }), /554 5\.7\.1/)
    const ids = ['<m1@camp.test>', '<m2@camp.test>', '<m3@camp.test>']
    for (const id of ids) await c.sendMail({ from: alice.address, to: bob.address, subject: 'hello town', text: `hello ${id}\n`, messageId: id })
    c.close()

    let q = await camp.cli(['queue'])
    assert.match(q.stdout, /town: 3 messages/)

    const exp = await camp.cli(['export', stick])
    assert.equal(exp.code, 0, exp.stderr)
    assert.match(exp.stdout, /exported 3 messages and 0 acks in 1 bundles/)
    assert.equal(bundlesIn(stick).length, 1)
    // Nothing leaves the outbox on export: only an ack removes it.
    assert.match((await camp.cli(['queue'])).stdout, /town: 3 messages.*\n.*exported 1×/)

    // An NNCP area's handler (`import - --area`) is handed every member's
    // bundles: town's is passed over, exit 0, with nothing kept or quarantined.
    const passed = spawnSync(process.execPath, [OUTPOST_BIN, 'import', '-', '--area', 'valley', '--data', camp.data], { input: readFileSync(bundlesIn(stick)[0]!), encoding: 'utf8' })
    assert.equal(passed.status, 0, passed.stderr)
    assert.match(passed.stdout, /stdin: bundle \S+ from camp is for town; passed over, NNCP carries it on through area valley/)
    assert.deepEqual(readdirSync(camp.data).includes('quarantine') ? readdirSync(join(camp.data, 'quarantine')) : [], [])
    assert.equal(spawnSync(process.execPath, [OUTPOST_BIN, 'import', stick, '--area', 'valley', '--data', camp.data], { encoding: 'utf8' }).status, 2, '--area goes with import - only')
    // A carrier that pipes town's bundle into camp (`import -`): kept in camp's quarantine, exit 0 so the carrier lets go.
    const misdirected = spawnSync(process.execPath, [OUTPOST_BIN, 'import', '-', '--data', camp.data], { input: readFileSync(bundlesIn(stick)[0]!), encoding: 'utf8' })
    assert.equal(misdirected.status, 0, misdirected.stderr)
    assert.match(misdirected.stdout, /stdin: QUARANTINED \(not-for-us\)/)
    assert.match(readFileSync(readdirSync(join(camp.data, 'quarantine')).filter((f) => f.endsWith('.reason.txt')).map((f) => join(camp.data, 'quarantine', f))[0]!, 'utf8'), /addressed to town/)

    // A second copy of the stick, as if the same bundle also came another way.
    const copy = mkdtempSync(join(tmpdir(), 'op-copy-'))
    cpSync(stick, copy, { recursive: true })

    const imp = await town.cli(['import', stick])
    assert.equal(imp.code, 0, imp.stderr + imp.stdout)
    assert.match(imp.stdout, /3 delivered here/)
    assert.equal(bundlesIn(stick).length, 0, 'an imported bundle leaves the stick')
    let counts = messageIdCounts(town.data, bob.address)
    for (const id of ids) assert.equal(counts.get(id), 1)

    const again = await town.cli(['import', copy])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /already imported/)
    counts = messageIdCounts(town.data, bob.address)
    for (const id of ids) assert.equal(counts.get(id), 1, `${id} once, though its bundle came twice`)

    // Acks travel back and empty camp's outbox.
    const back = await town.cli(['export', stick])
    assert.match(back.stdout, /0 messages and 3 acks/)
    const acked = await camp.cli(['import', stick])
    assert.equal(acked.code, 0, acked.stderr + acked.stdout)
    assert.match(acked.stdout, /3 acks from town/)
    q = await camp.cli(['queue'])
    assert.match(q.stdout, /the outbox is empty/)
    assert.deepEqual(readdirSync(join(camp.data, 'spool')).filter((n) => n !== WORK_SIGNAL), [], 'spool files go with the last ack')

    // Bad input: each bad bundle is quarantined with its reason; a good one beside them still arrives.
    const c2 = smtpClient(camp.ports.submission, alice)
    await c2.sendMail({ from: alice.address, to: bob.address, subject: 'good', text: 'good one\n', messageId: '<good@camp.test>' })
    await c2.sendMail({ from: alice.address, to: bob.address, subject: 'second', text: 'second one\n', messageId: '<second@camp.test>' })
    c2.close()
    const bad = mkdtempSync(join(tmpdir(), 'op-bad-'))
    assert.equal((await camp.cli(['export', bad])).code, 0)
    const [good] = bundlesIn(bad)
    const bytes = readFileSync(good!)
    const folder = join(bad, 'outpost', 'town')
    writeFileSync(join(folder, 'a-truncated.obundle'), bytes.subarray(0, bytes.length - 100))
    const flipped = Buffer.from(bytes)
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01
    writeFileSync(join(folder, 'b-flipped.obundle'), flipped)
    writeFileSync(join(folder, 'c-garbage.obundle'), Buffer.from('not a bundle at all\n'))
    writeFileSync(join(folder, '.d-partial.obundle.tmp'), bytes.subarray(0, 10))
    const mixed = await town.cli(['import', bad])
    assert.equal(mixed.code, 1, 'quarantined bundles make the exit code non-zero')
    assert.match(mixed.stdout, /a-truncated\.obundle: QUARANTINED \(truncated\)/)
    assert.match(mixed.stdout, /b-flipped\.obundle: QUARANTINED \((bad-signature|corrupt)\)/)
    assert.match(mixed.stdout, /c-garbage\.obundle: QUARANTINED/)
    assert.match(mixed.stdout, /2 delivered here/)
    counts = messageIdCounts(town.data, bob.address)
    assert.equal(counts.get('<good@camp.test>'), 1)
    assert.equal(counts.get('<second@camp.test>'), 1)
    const qfiles = readdirSync(join(town.data, 'quarantine'))
    assert.equal(qfiles.filter((f) => f.endsWith('.reason.txt')).length, 3)
    assert.ok(readdirSync(folder).includes('.d-partial.obundle.tmp'), 'an unfinished write is not touched')
    const status = await town.cli(['status'])
    assert.match(status.stdout, /quarantine: 3 files/)
    rmSync(bad, { recursive: true, force: true })
    rmSync(copy, { recursive: true, force: true })
  } finally {
    await scene.destroy()
  }
})
