// The peer route under a flood of uploads signed with a junk key: anyone who
// knows a peer's name can send them, and before the body's signature is
// checked the node must spend neither memory nor disk on them beyond a few
// at a time. A genuine bundle sent in the same run still gets through.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { campAndTown } from '../../helpers/stick.js'
import { smtpClient, messageIdCounts } from '../../helpers/mail.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { nodePaths } from '../../../server/base/paths.js'
import { signRequest } from '../../../server/transports/http-auth.js'
import { postBundle, type PostResult } from '../../../server/transports/http.js'

/** A VmRSS or VmHWM line of /proc/PID/status, in bytes. */
function vm(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no ${field} for ${pid}`)
  return Number(m[1]) * 1024
}

const MiB = 1024 * 1024

test('http transport: 40 parallel 64 MiB uploads with a junk signature keep the node small, are all refused, and a good bundle beside them is delivered', { timeout: 600_000 }, async () => {
  const s = await campAndTown()
  const { camp, town, stick, alice, bob } = s
  try {
    const c = smtpClient(camp.ports.submission, alice)
    await c.sendMail({ from: alice.address, to: bob.address, subject: 'through the flood', text: 'still here\n', messageId: '<flood1@camp.test>' })
    c.close()
    const exp = await camp.cli(['export', stick])
    assert.equal(exp.code, 0, exp.stderr)
    const dir = join(stick, 'outpost', 'town')
    const [file] = readdirSync(dir).filter((n) => n.endsWith('.obundle'))
    const bundle = readFileSync(join(dir, file!))
    const campKey = loadIdentity(nodePaths(camp.data)).signPrivate
    const junkKey = generateKeyPairSync('ed25519').privateKey
    const url = new URL(`https://127.0.0.1:${town.ports.web}/api/peer/bundles`)
    const post = (body: Buffer, headers: Record<string, string>) => postBundle(url, body, headers, { insecureTls: true })

    const pid = town.pid()!
    // Warm the route up once, so the baseline includes what a first request costs.
    await post(Buffer.from('warm'), signRequest({ node: 'camp', key: junkKey, body: Buffer.from('warm') }))
    const before = vm(pid, 'VmRSS')

    const junk = Buffer.alloc(64 * MiB, 0x5a)
    const flood = Array.from({ length: 40 }, () =>
      post(junk, signRequest({ node: 'camp', key: junkKey, body: junk })).then(
        (r: PostResult) => String(r.status),
        // The node may close a refused upload's connection before all of it was sent.
        (err: Error) => `closed (${err.message})`,
      ),
    )
    // The genuine bundle, sent as the transport would: again after a 503 or 429, freshly signed each time.
    const good = (async () => {
      const deadline = Date.now() + 300_000
      for (;;) {
        const r = await post(bundle, signRequest({ node: 'camp', key: campKey, body: bundle }))
        if (r.status !== 503 && r.status !== 429) return r
        if (Date.now() > deadline) throw new Error(`the good bundle was still refused after 300 s: ${r.status} ${r.body}`)
        await new Promise((res) => setTimeout(res, 200))
      }
    })()
    const answers = await Promise.all(flood)
    const goodAnswer = await good
    const peak = vm(pid, 'VmHWM')
    const tally = new Map<string, number>()
    for (const a of answers) tally.set(a.replace(/ \(.*/, ''), (tally.get(a.replace(/ \(.*/, '')) ?? 0) + 1)
    console.log(`# junk flood: RSS ${Math.round(before / MiB)} MiB before, peak ${Math.round(peak / MiB)} MiB; answers ${JSON.stringify(Object.fromEntries(tally))}`)

    assert.ok(
      answers.every((a) => a === '401' || a === '503' || a.startsWith('closed')),
      `every junk upload is refused: ${answers.join(', ')}`,
    )
    assert.ok((tally.get('401') ?? 0) >= 1, 'some junk uploads were read to the end and their signature refused')
    // Forty bodies of 64 MiB held at once were 2.5 GB; streamed to disk a few at a time, the node barely grows.
    assert.ok(peak - before < 128 * MiB, `peak RSS grew by ${Math.round((peak - before) / MiB)} MiB`)
    assert.equal(goodAnswer.status, 200, goodAnswer.body)
    assert.equal(JSON.parse(goodAnswer.body).outcome, 'imported')
    assert.equal(messageIdCounts(town.data, bob.address).get('<flood1@camp.test>'), 1)
    // Nothing of the junk stays on disk.
    assert.deepEqual(readdirSync(join(town.data, 'run', 'uploads')), [])
  } finally {
    await s.destroy()
  }
})
