// Bytes on air: real Delta Chat messages (made by the real core, see
// test/fixtures/deltachat/) cross a simulated LoRa link between two real
// Outpost nodes in the narrow encoding, and Dovecot at the far end stores
// each byte for byte as submitted, apart from the trace headers on top. An
// Autocrypt key goes whole once, by reference after that; when the far end
// has lost its keys, a bundle that refers to them is refused, never
// delivered without them, and the sender goes back to sending keys whole.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { campAndTown } from '../../helpers/stick.js'
import { OUTPOST_BIN, type CliResult, type TestNode } from '../../helpers/node.js'
import { maildirFiles, smtpClient } from '../../helpers/mail.js'
import { ptyRadioPair } from '../../helpers/radio-sim.js'
import { waitFor } from '../../helpers/wait.js'
import { deltaChatSamples, submittedForm } from '../../helpers/deltachat-samples.js'
import { foldKey, keyRef } from '../../../server/bundle/narrow/autocrypt-key.js'

const modulation = { sf: 7, bw: 125000, cr: 5, preamble: 8 }

function transportRun(node: TestNode, id = '1'): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OUTPOST_BIN, 'transport', 'run', id, '--data', node.data], { encoding: 'utf8', timeout: 600_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** The stored message with this Message-ID, if town's Dovecot has it. */
function stored(town: TestNode, address: string, messageId: string): Buffer | undefined {
  for (const f of maildirFiles(town.data, address)) {
    const text = readFileSync(f, 'latin1')
    if (text.split(/\r?\n\r?\n/, 1)[0]!.toLowerCase().includes(`message-id: ${messageId.toLowerCase()}`)) return Buffer.from(text, 'latin1')
  }
  return undefined
}

const messageIdOf = (data: Buffer) => /^Message-ID:\s*(<[^>]+>)/im.exec(data.toString('latin1'))![1]!

test('real Delta Chat messages cross the radio narrow and are stored byte for byte; keys go by reference, and a lost keyring costs a refusal, not a message', { timeout: 900_000 }, async () => {
  const radio = await ptyRadioPair({ modulation, payload: 222, loss: 0.05, corrupt: 0.01, seed: 1717 })
  const scene = await campAndTown()
  const { camp, town, alice, bob } = scene
  const logs: string[] = []
  const session = async () => {
    const [rc, rt] = await Promise.all([transportRun(camp), transportRun(town)])
    assert.equal(rc.code, 0, `camp: ${rc.stderr}${rc.stdout}`)
    assert.equal(rt.code, 0, `town: ${rt.stderr}${rt.stdout}`)
    logs.push(`camp: ${rc.stdout.trim()} ${rc.stderr.trim()}`, `town: ${rt.stdout.trim()}`)
    return rc
  }
  const submit = async (data: Buffer) => {
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ envelope: { from: alice.address, to: [bob.address] }, raw: data })
    c.close()
  }
  try {
    const settings = ['--set', 'sf=7', '--set', 'duty=10', '--set', 'listen_seconds=6', '--schedule', '0 0 1 1 *']
    for (const [node, peer, tty] of [[camp, 'town', radio.ttys[0]], [town, 'camp', radio.ttys[1]]] as const) {
      const r = await node.cli(['transport', 'add', peer, 'lora', '--set', `port=${tty}`, ...settings])
      assert.equal(r.code, 0, r.stderr)
    }
    // Real messages of the real core, as alice's phone would submit them.
    const samples = deltaChatSamples().filter((s) => s.sender === alice.address).slice(0, 3).map((s) => s.data)
    assert.equal(samples.length, 3)
    // A message with the sender's key in its Autocrypt header, as a SecureJoin request carries it.
    const key = randomBytes(450)
    const withKey = (n: number) => Buffer.from([
      `Message-ID: <key${n}@camp.test>`, 'Subject: Message from alice@camp.test', 'Chat-Version: 1.0', 'Secure-Join: vc-request',
      `Autocrypt: addr=${alice.address}; prefer-encrypt=mutual; keydata=${foldKey(key, { crlf: true, tab: false, first: 0, lineLength: 76 })}`,
      'MIME-Version: 1.0', `From: <${alice.address}>`, `To: <${bob.address}>`, 'Content-Type: text/plain; charset=utf-8', '', 'Secure-Join: vc-request', '',
    ].join('\r\n'), 'latin1')

    // 1. Three real short messages and one key, in one radio session.
    for (const d of [...samples, withKey(1)]) await submit(d)
    await waitFor('4 messages in the outbox', async () => /town: 4 messages/.test((await camp.cli(['queue'])).stdout))
    await session()
    for (const d of [...samples, withKey(1)]) {
      const got = await waitFor(`${messageIdOf(d)} at town`, () => stored(town, bob.address, messageIdOf(d)), 30_000)
      assert.ok(submittedForm(got.toString('latin1')).equals(d), `${messageIdOf(d)}: stored differs from submitted beyond the trace headers`)
    }
    const keyring = join(town.data, 'spool', 'narrow-keys')
    assert.deepEqual(readdirSync(keyring), [keyRef(key)], 'town keeps the key it received whole')
    const peerKeys = () => JSON.parse(readFileSync(join(camp.data, 'spool', 'lora', 'town', 'peer-keys.json'), 'utf8')) as { held: string[] }
    assert.deepEqual(peerKeys().held, [keyRef(key)], 'camp knows town holds the key once town took the bundle in')

    // Each node heard the other's frames say that it takes compact carriage
    // forms (camp's mail, town's ack): from now on bundles cross compacted.
    for (const [node, peer] of [[camp, 'town'], [town, 'camp']] as const) {
      assert.ok(existsSync(join(node.data, 'spool', 'lora', peer, 'takes-compact')), `the node facing ${peer} knows it takes compact forms`)
    }

    // 2. The same key again, in a compact carriage form now: it goes by reference, and bob's copy is still whole.
    await submit(withKey(2))
    await waitFor('the message in the outbox', async () => /town: 1 messages/.test((await camp.cli(['queue'])).stdout))
    await session()
    const second = await waitFor('<key2@camp.test> at town', () => stored(town, bob.address, '<key2@camp.test>'), 30_000)
    assert.ok(submittedForm(second.toString('latin1')).equals(withKey(2)))
    assert.ok(!existsSync(join(town.data, 'quarantine')) || readdirSync(join(town.data, 'quarantine')).length === 0, 'the compact form expanded to the signed bundle: nothing quarantined')

    // 3. Town loses its keys: the next bundle referring to the key is refused and quarantined, nothing half is delivered, and camp forgets.
    rmSync(keyring, { recursive: true, force: true })
    await submit(withKey(3))
    await waitFor('the message in the outbox', async () => /town: 1 messages/.test((await camp.cli(['queue'])).stdout))
    const rc = await session()
    assert.match(rc.stdout + rc.stderr, /refused bundle/)
    assert.equal(stored(town, bob.address, '<key3@camp.test>'), undefined)
    assert.ok(readdirSync(join(camp.data, 'spool', 'lora', 'town', 'out')).some((n) => n.startsWith('error.')), 'camp keeps the refused bundle as error.*')
    assert.ok(readdirSync(join(town.data, 'quarantine')).length > 0, 'town quarantines the bundle it could not unpack')
    assert.deepEqual(peerKeys().held, [], 'camp sends keys whole again')
    assert.ok(existsSync(join(camp.data, 'spool', 'lora', 'town', 'out')))
  } finally {
    console.log(`# channel: ${JSON.stringify(radio.channel.stats)}`)
    for (const l of logs) console.log(`# ${l}`)
    await scene.destroy()
    await radio.stop()
  }
})
