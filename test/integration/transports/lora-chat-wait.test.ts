// Chat waits at most one bundle on a narrow radio, with the real parts:
// nodes camp and town joined by simulated LoRa radios (two ptys, real
// airtime at SF7/250 kHz). Three medium messages (over the 16 KiB of chat
// size, under the radio's raised limit) wait; a radio run starts on them,
// and once the first fragment is on the air alice sends a short text. The
// run chooses again after each bundle, so the text goes in the second
// bundle, before the two medium messages still waiting, and bob gets all
// four once each.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { campAndTown } from '../../helpers/stick.js'
import { OUTPOST_BIN, type CliResult, type TestNode } from '../../helpers/node.js'
import { maildirFiles, messageIdCounts, smtpClient } from '../../helpers/mail.js'
import { ptyRadioPair } from '../../helpers/radio-sim.js'
import { waitFor } from '../../helpers/wait.js'
import { KIND_DATA, KIND_SHORT_DATA } from '../../../server/transports/lora/frames.js'

/** `outpost transport run`, which holds the radio for as long as the session lasts. */
function transportRun(node: TestNode, id: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OUTPOST_BIN, 'transport', 'run', id, '--data', node.data], { encoding: 'utf8', timeout: 500_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** bob's messages in the order Dovecot stored them (a Maildir name begins with the second and microsecond of delivery). */
function arrivalOrder(data: string, address: string): string[] {
  const stamp = (f: string) => {
    const m = /^(\d+)\.M(\d+)P/.exec(basename(f))
    return m ? Number(m[1]) * 1e6 + Number(m[2]) : Infinity
  }
  return maildirFiles(data, address)
    .sort((a, b) => stamp(a) - stamp(b))
    .map((f) => /^message-id:\s*(<[^>]+>)/im.exec(readFileSync(f, 'latin1').split(/\r?\n\r?\n/, 1)[0] ?? '')?.[1] ?? '?')
}

test('a chat message sent while a bundle is on the air goes in the next bundle, before the larger mail chosen earlier', { timeout: 900_000 }, async () => {
  const radio = await ptyRadioPair({ modulation: { sf: 7, bw: 250000, cr: 5, preamble: 8 }, payload: 222, loss: 0, corrupt: 0, seed: 31 })
  const scene = await campAndTown()
  const { camp, town, alice, bob } = scene
  try {
    // 100% duty: the simulated channel is no regulated band, and the test is about order, not budget.
    // bundle_seconds=2 holds about 2 KiB: each medium message goes alone.
    const common = ['--set', 'sf=7', '--set', 'bw=250000', '--set', 'duty=100', '--set', 'listen_seconds=6', '--set', 'max_message_kib=32', '--set', 'bundle_seconds=2', '--schedule', '0 0 1 1 *']
    for (const [node, peer, tty] of [[camp, 'town', radio.ttys[0]], [town, 'camp', radio.ttys[1]]] as const) {
      const r = await node.cli(['transport', 'add', peer, 'lora', '--set', `port=${tty}`, ...common])
      assert.equal(r.code, 0, r.stderr)
    }
    // Three medium messages: about 19 KiB each in the outbox, over the 16 KiB of chat size.
    const c = smtpClient(camp.ports.submission, alice)
    for (const n of [1, 2, 3]) await c.sendMail({ from: alice.address, to: bob.address, subject: `log ${n}`, text: randomBytes(14 * 1024).toString('base64'), messageId: `<medium${n}@camp.test>` })
    await waitFor('the three medium messages in the outbox', async () => /town: 3 messages/.test((await camp.cli(['queue'])).stdout))

    const runs = Promise.all([transportRun(camp, '1'), transportRun(town, '1')])
    // The first fragment of the first bundle is on the air: now alice writes.
    const isData = (k: number) => k === KIND_DATA || k === KIND_SHORT_DATA
    await waitFor('the first DATA frame from camp on the air', async () => radio.channel.onAir.some((f) => f.from === 0 && isData(f.data[0]!)), 60_000)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'water', text: 'Water at the camp is fine.\n', messageId: '<chat@camp.test>' })
    c.close()
    await waitFor('the text in the outbox', async () => /town: 4 messages/.test((await camp.cli(['queue'])).stdout))
    // What this test is about needs the text queued while the first bundle is still going.
    assert.equal(messageIdCounts(town.data, bob.address).size, 0, 'the text was queued before the first bundle arrived')

    const [rc, rt] = await runs
    assert.equal(rc.code, 0, `camp: ${rc.stderr}${rc.stdout}`)
    assert.equal(rt.code, 0, `town: ${rt.stderr}${rt.stdout}`)
    assert.match(rc.stdout, /sent 4 bundles \(4 messages/, rc.stdout)
    // Each once, and the text second: it waited for one bundle, not for all three.
    await waitFor('all four in bob\'s Maildir', async () => messageIdCounts(town.data, bob.address).size === 4)
    assert.deepEqual([...messageIdCounts(town.data, bob.address).values()], [1, 1, 1, 1])
    assert.deepEqual(arrivalOrder(town.data, bob.address), ['<medium1@camp.test>', '<chat@camp.test>', '<medium2@camp.test>', '<medium3@camp.test>'])
    console.log(`# camp: ${rc.stdout.trim()}`)
  } finally {
    await scene.destroy()
    await radio.stop()
  }
})
