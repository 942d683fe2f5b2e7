// IDLE push through the outpost_push Dovecot plugin, on a real node: every
// one of many messages, sent at random gaps through the node's SMTP
// submission, reaches an IMAP client sitting in IDLE as an EXISTS within a
// bound. The bound (2 s) is four times stock Dovecot's own 0.5 s wait: it
// fails only when a push is lost, never because a machine is slow to push
// (bench/ measures how fast). The plugin is built first for the Dovecot
// installed here (2.3 on bookworm, 2.4 in the trixie tier), and the test
// checks that the imap process serving the client really loaded it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import nodemailer from 'nodemailer'
import { ImapFlow } from 'imapflow'
import { startNode, type TestNode } from '../../helpers/node.js'
import { waitFor } from '../../helpers/wait.js'
import { nodePaths } from '../../../server/base/paths.js'
import { dovecotInstanceName } from '../../../server/dovecot/config.js'
import { PUSH_PLUGIN_FILE } from '../../../server/dovecot/push.js'
import { seededRandom } from '../../helpers/seeded-random.js'

const MESSAGES = Number(process.env.PUSH_TEST_MESSAGES ?? 150)
/** Gaps between sends, in ms: uniform in [0, MAX_GAP_MS), from a fixed seed so a failure can be replayed. */
const MAX_GAP_MS = Number(process.env.PUSH_TEST_MAX_GAP_MS ?? 500)
const SEED = Number(process.env.PUSH_TEST_SEED ?? 15)
const PUSH_BOUND_MS = 2000
const BUILD = fileURLToPath(new URL('../../../server/dovecot/push-plugin/build.sh', import.meta.url))


/** The instance's imap processes (not imap-login) and whether each has the plugin mapped. */
function imapProcesses(node: TestNode): Array<{ pid: number; plugin: boolean }> {
  const prefix = `dovecot-${dovecotInstanceName(nodePaths(node.data))}/imap`
  const found: Array<{ pid: number; plugin: boolean }> = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const argv0 = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0] ?? ''
      if (argv0 !== prefix && !argv0.startsWith(prefix + ' ')) continue
      found.push({ pid: Number(d), plugin: readFileSync(`/proc/${d}/maps`, 'utf8').includes(PUSH_PLUGIN_FILE) })
    } catch {
      // The process ended while being read.
    }
  }
  return found
}

const UNLIMITED = { OUTPOST_LIMITS_SEND_PER_MINUTE: '1000000', OUTPOST_LIMITS_SEND_BURST: '1000000' }
const nodes: TestNode[] = []

before(() => {
  // The build step users run (quickstart.sh, npm ci), for this machine's Dovecot.
  execFileSync('bash', [BUILD], { stdio: ['ignore', 'inherit', 'inherit'] })
})

after(async () => {
  for (const n of nodes) await n.destroy()
})

/**
 * Sends `messages` messages at seeded random gaps to a reader in IDLE and
 * returns those whose EXISTS push is missing or later than the bound.
 * `plugin` is what the reader's imap process must have loaded.
 */
async function pushRun(n: TestNode, messages: number, plugin: boolean): Promise<Array<{ message: number; pushMs: number | undefined }>> {
  const [sender, reader] = [await n.addAccount('sender'), await n.addAccount('reader')]

  const imap = new ImapFlow({
    host: '127.0.0.1', port: n.ports.imap, secure: false, doSTARTTLS: true,
    auth: { user: reader.address, pass: reader.password },
    tls: { rejectUnauthorized: false }, logger: false,
    // IDLE as soon as the mailbox is open (the default waits 15 s).
    autoIdleDelay: 50,
  })
  // sentAt[i] is when message i+1 got its 250; pushedAt[i] when an EXISTS first counted it.
  const sentAt: number[] = []
  const pushedAt: number[] = []
  imap.on('exists', (e: { count: number }) => {
    const now = performance.now()
    for (let i = 0; i < e.count; i++) pushedAt[i] ??= now
  })
  const smtp = nodemailer.createTransport({
    host: '127.0.0.1', port: n.ports.submission, secure: false, requireTLS: true,
    auth: { user: sender.address, pass: sender.password }, tls: { rejectUnauthorized: false },
    pool: true, maxConnections: 1, maxMessages: Number.POSITIVE_INFINITY,
  })
  try {
    await imap.connect()
    const box = await imap.mailboxOpen('INBOX')
    assert.equal(box.exists, 0)
    // The reader's own imap process, with or without the plugin mapped.
    const procs = await waitFor('the reader\'s imap process', () => {
      const p = imapProcesses(n)
      return p.length > 0 && p
    }, 10_000)
    assert.ok(procs.every((p) => p.plugin === plugin), `the imap process must ${plugin ? 'have' : 'not have'} ${PUSH_PLUGIN_FILE} loaded: ${JSON.stringify(procs)}`)
    await waitFor('IDLE to start', () => imap.idling, 10_000)

    const gap = seededRandom(SEED)
    for (let i = 0; i < messages; i++) {
      await new Promise((r) => setTimeout(r, Math.floor(gap() * MAX_GAP_MS)))
      await smtp.sendMail({ from: sender.address, to: reader.address, subject: `push ${i + 1}`, text: `message ${i + 1} of ${messages}\n` })
      sentAt[i] = performance.now()
    }
    // Every push due by now has had its bound; the last ones get theirs.
    await waitFor(`all ${messages} EXISTS pushes`, () => pushedAt.length >= messages && pushedAt.every((t) => t !== undefined), PUSH_BOUND_MS + 1000).catch(() => undefined)

    // Still the same kind of process: IDLE was never dropped and re-established otherwise.
    assert.ok(imapProcesses(n).every((p) => p.plugin === plugin))
    return sentAt
      .map((t, i) => ({ message: i + 1, pushMs: pushedAt[i] === undefined ? undefined : Math.round(pushedAt[i]! - t) }))
      .filter((s) => s.pushMs === undefined || s.pushMs > PUSH_BOUND_MS)
  } finally {
    smtp.close()
    await imap.logout().catch(() => imap.close())
  }
}

test(`IDLE: each of ${MESSAGES} messages sent at random gaps is pushed as EXISTS within ${PUSH_BOUND_MS} ms, with the outpost_push plugin loaded`, async () => {
  const n = await startNode({ env: UNLIMITED })
  nodes.push(n)
  assert.match(n.output(), /IDLE push: at once, by the outpost_push Dovecot plugin/)
  assert.deepEqual(await pushRun(n, MESSAGES, true), [], `pushes missing or later than ${PUSH_BOUND_MS} ms (seed ${SEED})`)
})

test('IDLE: with OUTPOST_DOVECOT_PUSH=stock the node runs stock Dovecot, says so, and still pushes every message', async () => {
  const n = await startNode({ env: { ...UNLIMITED, OUTPOST_DOVECOT_PUSH: 'stock' } })
  nodes.push(n)
  assert.match(n.output(), /IDLE push: stock Dovecot, after its built-in 0\.5 s wait \(OUTPOST_DOVECOT_PUSH=stock\)/)
  assert.doesNotMatch(readFileSync(nodePaths(n.data).dovecotConf, 'utf8'), /outpost_push/)
  assert.deepEqual(await pushRun(n, 10, false), [], `pushes missing or later than ${PUSH_BOUND_MS} ms (seed ${SEED})`)
})
