// `outpost start` as a supervisor: ready line, health, restart of a dead
// child, clean stop, and no orphan after kill -9.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:https'
import { startNode } from '../../helpers/node.js'
import { processTree, waitAllGone, cmdline, isAlive } from '../../helpers/procs.js'
import { waitFor } from '../../helpers/wait.js'

function getHealth(port: number): Promise<{ status: number; body: Record<string, { ok: boolean }> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/health', rejectUnauthorized: false }, (res) => {
      let b = ''
      res.on('data', (d) => (b += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(b) }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function waitHealthy(port: number, timeoutMs = 30_000) {
  let last: unknown
  return waitFor('the node to report healthy', async () => {
    const h = await getHealth(port).catch((err: Error) => err.message)
    last = typeof h === 'string' ? h : h.body
    return typeof h !== 'string' && h.status === 200 ? h : undefined
  }, { timeoutMs, everyMs: 250, explain: () => `health said ${JSON.stringify(last)}` })
}

test('start: ready line, health over TLS, child restart, clean stop, no orphans after kill -9', { timeout: 180_000 }, async () => {
  const node = await startNode()
  try {
    assert.match(node.output(), /outpost ready: camp\.test .*https:\/\/127\.0\.0\.1:\d+\//)
    const h = await getHealth(node.ports.web)
    assert.equal(h.status, 200)
    assert.equal(h.body.smtp!.ok, true)
    assert.equal(h.body.imap!.ok, true)
    assert.equal(h.body.db!.ok, true)

    // A child that dies is restarted and logged.
    const tree = processTree(node.pid()!)
    const isDovecotMaster = (p: number) => /dovecot -F/.test(cmdline(p)) || /^dovecot\b/.test(cmdline(p)) && /-c /.test(cmdline(p))
    const dovecot = tree.find(isDovecotMaster)
    assert.ok(dovecot, `dovecot among ${tree.map(cmdline).join(' | ')}`)
    process.kill(dovecot, 'SIGKILL')
    // Healthy again only counts once a new Dovecot master runs in place of the killed one.
    await waitFor('a new Dovecot master', () => processTree(node.pid()!).some((p) => p !== dovecot && isDovecotMaster(p)))
    await waitHealthy(node.ports.web)
    assert.match(node.output(), /dovecot exited \(SIGKILL\); restarting/)

    // SIGTERM stops everything.
    let pids = processTree(node.pid()!)
    assert.ok(pids.length >= 3, 'node, haraka and dovecot run')
    await node.stop()
    assert.deepEqual(await waitAllGone(pids), [], 'no process left after SIGTERM')

    // kill -9 of the node: the children die with it, and a new start works.
    await node.restart()
    pids = processTree(node.pid()!)
    await node.kill9()
    // Dovecot's auth, stats, log and anvil leave only once they notice their
    // master is gone, which on a busy machine takes seconds: the bound is wide.
    const left = await waitAllGone(pids, 90_000)
    assert.deepEqual(left.map((p) => `${p} ${cmdline(p)}`), [], 'no orphan after kill -9')
    await node.restart()
    assert.equal((await waitHealthy(node.ports.web)).status, 200)
    assert.ok(isAlive(node.pid()!))
  } finally {
    await node.destroy()
  }
})
