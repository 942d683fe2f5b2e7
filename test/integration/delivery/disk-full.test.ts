// The data dir on a small file system, filled to the brim while mail
// arrives and a bundle is imported. "250 means stored" must hold: every
// message that got a 250 is in the mailbox, every other one got a 4xx (so
// the phone keeps it and sends again), the bundle stays on the stick until
// it can be taken, and once there is room again everything arrives once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type TestNode } from '../../helpers/node.js'
import { befriend } from '../../helpers/stick.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'

const MiB = 1024 * 1024
const replies = new Map<string, string>()
const FLOOR_MB = 16

function free(dir: string): number {
  const s = statfsSync(dir)
  return s.bavail * s.bsize
}

/** Writes `file` until the file system is full, or until only `leave` bytes are free; returns its size. */
function fill(file: string, leave = 0): number {
  const fd = openSync(file, 'a')
  const chunk = Buffer.alloc(256 * 1024, 0x2e)
  let size = 0
  try {
    for (;;) {
      const room = free(file.slice(0, file.lastIndexOf('/'))) - leave
      if (room <= 0) break
      try {
        size += writeSync(fd, chunk, 0, Math.min(chunk.length, room))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
        throw err
      }
    }
  } finally {
    closeSync(fd)
  }
  return size
}

/** Sends one message; its SMTP code (250, or the 4xx/5xx it was refused with). */
async function send(node: TestNode, from: { address: string; password: string }, to: string, messageId: string, body = 'hello\n'): Promise<number> {
  const c = smtpClient(node.ports.submission, from)
  try {
    await c.sendMail({ from: from.address, to, subject: messageId, text: body, messageId })
    return 250
  } catch (err) {
    const code = (err as { responseCode?: number }).responseCode ?? 0
    replies.set(messageId, `${(err as Error).message}`)
    return code
  } finally {
    c.close()
  }
}

test('disk full: every 250 is stored, the rest get a 4xx, a bundle waits on the stick, and nothing is lost', { timeout: 400_000, skip: process.getuid?.() !== 0 ? 'mounting a tmpfs needs root' : false }, async () => {
  const mnt = mkdtempSync(join(tmpdir(), 'op-disk-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96m,mode=0755', 'tmpfs', mnt])
  const stick = mkdtempSync(join(tmpdir(), 'op-stick-'))
  const filler = join(mnt, 'filler')
  let camp: TestNode | undefined
  let town: TestNode | undefined
  try {
    camp = await startNode({ domain: 'camp.test' })
    town = await startNode({ domain: 'town.test', parent: mnt, env: { OUTPOST_STORAGE_MIN_FREE_MB: String(FLOOR_MB), OUTPOST_LIMITS_SEND_BURST: '100', OUTPOST_LIMITS_SEND_PER_MINUTE: '600' } })
    await befriend(camp, town)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')
    const carol = await town.addAccount('carol')
    // Mail from camp for bob, on the stick before town's disk fills.
    assert.equal(await send(camp, alice, bob.address, '<stick1@camp.test>'), 250)
    assert.equal((await camp.cli(['export', stick])).code, 0)
    const onStick = () => readdirSync(join(stick, 'outpost', 'town')).filter((n) => n.endsWith('.obundle'))
    assert.equal(onStick().length, 1)

    const codes = new Map<string, number>()
    // 1. To the brim.
    fill(filler)
    console.log(`# disk full: ${free(mnt)} bytes free`)
    for (let i = 0; i < 3; i++) codes.set(`<brim${i}@town.test>`, await send(town, carol, bob.address, `<brim${i}@town.test>`))
    let imp = await town.cli(['import', stick])
    assert.equal(onStick().length, 1, `the bundle stays on the stick: ${imp.stdout}${imp.stderr}`)
    assert.equal(imp.code, 75, `the import says "try again" (EX_TEMPFAIL): ${imp.stdout}${imp.stderr}`)

    // 2. Room for the message, but below the floor: still a 4xx, never a 250 into the last megabytes.
    rmSync(filler)
    fill(filler, (FLOOR_MB - 4) * MiB)
    console.log(`# below the floor: ${Math.round(free(mnt) / MiB)} MiB free`)
    for (let i = 0; i < 3; i++) codes.set(`<low${i}@town.test>`, await send(town, carol, bob.address, `<low${i}@town.test>`))
    imp = await town.cli(['import', stick])
    assert.equal(imp.code, 75, `${imp.stdout}${imp.stderr}`)
    assert.match(imp.stdout, /nearly full/)
    assert.equal(onStick().length, 1)

    const stored = messageIdCounts(town.data, bob.address)
    for (const [id, code] of codes) {
      if (code === 250) assert.equal(stored.get(id), 1, `${id} got 250, so it is stored`)
      else assert.ok(code >= 400 && code < 500, `${id} was refused with ${code}, which must be a 4xx`)
    }
    for (const id of ['<low0@town.test>', '<low1@town.test>', '<low2@town.test>']) assert.match(replies.get(id) ?? `${codes.get(id)}`, /4\d\d 4\.3\.1 Insufficient system storage/, `${id} below the floor gets a 4xx`)

    // 3. Room again: the phone's retries and the stick's second plug-in get everything through, once.
    rmSync(filler)
    for (const [id, code] of codes) if (code !== 250) assert.equal(await send(town, carol, bob.address, id), 250, `${id} sent again`)
    imp = await town.cli(['import', stick])
    assert.equal(imp.code, 0, `${imp.stdout}${imp.stderr}`)
    const after = messageIdCounts(town.data, bob.address)
    for (const id of [...codes.keys(), '<stick1@camp.test>']) assert.equal(after.get(id), 1, `${id} stored once`)
  } catch (err) {
    console.log(town?.output().split('\n').slice(-40).map((l) => `# ${l}`).join('\n'))
    throw err
  } finally {
    await Promise.all([camp?.destroy(), town?.destroy()])
    try {
      execFileSync('umount', [mnt])
    } catch {
      execFileSync('umount', ['-l', mnt])
    }
    rmSync(mnt, { recursive: true, force: true })
    rmSync(stick, { recursive: true, force: true })
  }
})
