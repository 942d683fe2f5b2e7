import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AcceptTrace, loopDelayOf, stepDurations } from '../../../server/haraka/lib/accept-trace.js'
import { waitFor } from '../../helpers/wait.js'

test("each trace line carries the event loop's delay since the last write, so a stall of the loop shows in the bench", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-trace-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'accept.jsonl')
  const trace = new AcceptTrace(file)
  // Let the histogram take a few samples first: it records on each of its own timer's ticks.
  await new Promise((r) => setTimeout(r, 20))
  const m = trace.start()
  m.mark('pending')
  // The loop held for 60 ms, as a synchronous fsync or parse holds it: its next tick is at least that late.
  const until = Date.now() + 60
  while (Date.now() < until);
  await new Promise((r) => setTimeout(r, 5))
  m.done()
  const read = () => (readFileSync(file, { encoding: 'utf8', flag: 'a+' }).split('\n').filter((l) => l.trim()))
  await waitFor('the trace line', () => read().length === 1)
  const lines = read()
  const loop = loopDelayOf(lines)
  assert.ok(loop, 'the line has the loop figures')
  assert.ok(loop.max >= 50, `the 60 ms stall is seen (max ${loop.max} ms)`)
  assert.ok(loop.p99 >= 50 && loop.mean > 0)
  assert.equal(stepDurations(lines).get('pending')!.length, 1, 'the steps read as before')
  assert.equal(loopDelayOf(['{"pending":1}']), undefined, 'a trace without loop figures has none')
})
