// Priority on a narrow link, with the real parts: nodes camp and town are
// joined by simulated LoRa radios (two ptys, real airtime at SF7/125 kHz,
// 5% frame loss) and by a folder standing in for a USB stick. Alice sends a
// photo and a short text at the same time. The radio carries the text and
// holds the photo, and the queue says why; the photo arrives when the folder
// transport runs; bob has each message once, and camp's outbox ends empty.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { campAndTown } from '../../helpers/stick.js'
import { OUTPOST_BIN, type CliResult, type TestNode } from '../../helpers/node.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { ptyRadioPair } from '../../helpers/radio-sim.js'
import { waitFor } from '../../helpers/wait.js'

/** `outpost transport run`, which holds the radio for as long as the session lasts (past runCli's one minute). */
function transportRun(node: TestNode, id: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OUTPOST_BIN, 'transport', 'run', id, '--data', node.data], { encoding: 'utf8', timeout: 300_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

test('a photo sent with a text is held on the radio and arrives by the stick; the text arrives by radio; each once', { timeout: 600_000 }, async () => {
  const radio = await ptyRadioPair({ modulation: { sf: 7, bw: 125000, cr: 5, preamble: 8 }, payload: 222, loss: 0.05, corrupt: 0.01, seed: 17 })
  const scene = await campAndTown()
  const { camp, town, alice, bob, stick } = scene
  try {
    const never = ['--schedule', '0 0 1 1 *']
    // 10% duty: 869.525 MHz lies in EU868's 869.4–869.65 MHz sub-band, which allows it.
    const common = ['--set', 'sf=7', '--set', 'duty=10', '--set', 'listen_seconds=4']
    for (const [node, peer, tty] of [[camp, 'town', radio.ttys[0]], [town, 'camp', radio.ttys[1]]] as const) {
      const r = await node.cli(['transport', 'add', peer, 'lora', '--set', `port=${tty}`, ...common, ...never])
      assert.equal(r.code, 0, r.stderr)
    }
    const help = await camp.cli(['transport', 'help'])
    assert.match(help.stdout, /max_message_kib: the largest message in KiB a narrow carrier takes \(default 8:/)

    // At the same time: a photo (180 KB of JPEG, about 247 KiB as base64 in the mail) and a short text.
    const c = smtpClient(camp.ports.submission, alice)
    await Promise.all([
      c.sendMail({ from: alice.address, to: bob.address, subject: 'the view', text: 'from the ridge\n', attachments: [{ filename: 'ridge.jpg', content: randomBytes(180 * 1024), contentType: 'image/jpeg' }], messageId: '<photo@camp.test>' }),
      c.sendMail({ from: alice.address, to: bob.address, subject: 'water', text: 'Water at the camp is fine.\n', messageId: '<text@camp.test>' }),
    ])
    c.close()
    await waitFor('both messages in the outbox', async () => /town: 2 messages/.test((await camp.cli(['queue'])).stdout))

    // Only the radio reaches town: the queue says the photo waits for a wider carrier that is not there.
    let q = (await camp.cli(['queue'])).stdout
    assert.match(q, /held: only narrow carriers reach town; add a wider one, or raise the limit \(lora #1 takes up to 8 KiB\): 1 message waits for that/)
    assert.equal(q.match(/held: only narrow carriers reach town/g)?.length, 2, `the heading and the photo's line:\n${q}`)

    // Now a stick reaches town too: the photo is held for it.
    for (const [node, peer] of [[camp, 'town'], [town, 'camp']] as const) {
      const r = await node.cli(['transport', 'add', peer, 'folder', '--set', `path=${stick}`, ...never])
      assert.equal(r.code, 0, r.stderr)
    }
    q = (await camp.cli(['queue'])).stdout
    assert.match(q, /1 message held for a wider carrier \(lora #1 takes up to 8 KiB\)/)
    assert.match(q, /held for a wider carrier \(folder #2\): 24\d KiB is over the narrow limit/)
    assert.doesNotMatch(q, /only narrow carriers/)

    // A radio session: the text crosses and its ack comes back; the photo stays.
    const [rc, rt] = await Promise.all([transportRun(camp, '1'), transportRun(town, '1')])
    assert.equal(rc.code, 0, `camp: ${rc.stderr}${rc.stdout}`)
    assert.equal(rt.code, 0, `town: ${rt.stderr}${rt.stdout}`)
    assert.match(rc.stdout, /sent 1 bundles \(1 messages and 0 acks sealed this run\) and received 1 from town by radio/)
    assert.match(rc.stdout, /1 message over 8 KiB held for a wider carrier/)
    await waitFor('the text in bob\'s Maildir', async () => messageIdCounts(town.data, bob.address).get('<text@camp.test>') === 1)
    assert.equal(messageIdCounts(town.data, bob.address).get('<photo@camp.test>'), undefined, 'the photo did not go by radio')
    q = (await camp.cli(['queue'])).stdout
    assert.match(q, /town: 1 messages/, q)
    assert.match(q, /not exported yet; held for a wider carrier \(folder #2\)/, 'the photo waits, never sent, until the stick')

    // The stick: camp writes the photo, town takes it in (a folder run writes
    // before it reads, so town's next run writes the ack), camp reads the ack.
    for (const [node, who] of [[camp, 'camp'], [town, 'town'], [town, 'town'], [camp, 'camp']] as const) {
      const r = await node.cli(['transport', 'run', '2'])
      assert.equal(r.code, 0, `${who}: ${r.stderr}${r.stdout}`)
    }
    assert.equal(messageIdCounts(town.data, bob.address).get('<photo@camp.test>'), 1)
    assert.equal(messageIdCounts(town.data, bob.address).get('<text@camp.test>'), 1, 'the text once, though the stick carried no second copy of it or it was deduplicated')
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)

    // Another radio session carries nothing again: each message is still there once.
    const [rc2] = await Promise.all([transportRun(camp, '1'), transportRun(town, '1')])
    assert.match(rc2.stdout, /sent 0 bundles/)
    assert.doesNotMatch(rc2.stdout, /held for a wider carrier/)
    assert.deepEqual([...messageIdCounts(town.data, bob.address)].filter(([id]) => /@camp\.test>$/.test(id)).sort(), [['<photo@camp.test>', 1], ['<text@camp.test>', 1]])
    console.log(`# radio: ${JSON.stringify(radio.channel.stats)}`)
    console.log(`# camp: ${rc.stdout.trim()}`)
  } finally {
    await scene.destroy()
    await radio.stop()
  }
})
