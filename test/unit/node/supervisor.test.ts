// The supervisor's asked-for restart: the child gets SIGTERM, `before` runs
// while it is down, and it starts again at once, without the back-off an
// unexpected exit gets.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Supervisor } from '../../../server/node/supervisor.js'
import { waitFor } from '../../helpers/wait.js'


test('restart stops the child with SIGTERM, runs before() while it is down, and starts it again at once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-sup-'))
  const trace = join(dir, 'trace')
  const lines: string[] = []
  const sup = new Supervisor(join(dir, 'log'), (l) => lines.push(l))
  const read = (): string[] => readFileSync(trace, 'utf8').trim().split('\n')
  // The child writes "start" when it runs and "term" when asked to stop.
  const script = `require('fs').appendFileSync(${JSON.stringify(trace)}, 'start\\n'); process.on('SIGTERM', () => { require('fs').appendFileSync(${JSON.stringify(trace)}, 'term\\n'); process.exit(0) }); setInterval(() => {}, 1000)`
  try {
    appendFileSync(trace, '')
    sup.start({ name: 'child', command: process.execPath, args: ['-e', script] })
    await waitFor('the first start', () => read().includes('start'))
    const first = sup.pid('child')
    const t0 = Date.now()
    sup.restart('child', () => appendFileSync(trace, 'before\n'))
    await waitFor('the second start', () => read().filter((l) => l === 'start').length === 2)
    assert.deepEqual(read(), ['start', 'term', 'before', 'start'], 'term, then before(), then the new child')
    assert.ok(Date.now() - t0 < 5000, 'no back-off')
    assert.notEqual(sup.pid('child'), first)
    assert.ok(lines.some((l) => l === 'child restarted'), lines.join('\n'))
    assert.ok(!lines.some((l) => /exited .*restarting in/.test(l)), 'not logged as a crash')
  } finally {
    await sup.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('afterStart runs at the first start and again after the child died and was restarted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-sup-'))
  const lines: string[] = []
  const sup = new Supervisor(join(dir, 'log'), (l) => lines.push(l))
  const started: Array<number | undefined> = []
  try {
    sup.start({ name: 'child', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], afterStart: () => started.push(sup.pid('child')) })
    assert.equal(started.length, 1, 'ran with the first start')
    const first = sup.pid('child')!
    assert.equal(started[0], first, 'after the child was spawned')
    process.kill(first, 'SIGKILL')
    await waitFor('the restart after the crash', () => started.length === 2)
    assert.notEqual(started[1], first, 'ran for the new child')
    assert.ok(lines.some((l) => /child exited \(SIGKILL\); restarting/.test(l)), lines.join('\n'))
  } finally {
    await sup.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})
