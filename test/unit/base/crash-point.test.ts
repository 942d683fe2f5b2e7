// The crash points' switch: off by default, kill -9 at the chosen step, or
// a freeze there (for a test that cuts a whole machine's power at that step).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const CRASH_POINT = fileURLToPath(new URL('../../../server/base/crash-point.ts', import.meta.url))
// Reaches the point "step" three times, saying so before each.
const SCRIPT = `const { crashPoint } = await import(${JSON.stringify(CRASH_POINT)}); for (const n of [1, 2, 3]) { process.stdout.write(n + ' '); crashPoint('step') }; process.stdout.write('end')`

function run(crashAt: string | undefined, onStdout?: (out: string, pid: number) => void): Promise<{ out: string; err: string; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const env = { ...process.env }
    if (crashAt === undefined) delete env.OUTPOST_CRASH_AT
    else env.OUTPOST_CRASH_AT = crashAt
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { env })
    let out = ''
    let err = ''
    p.stdout.on('data', (c: Buffer) => ((out += c), onStdout?.(out, p.pid!)))
    p.stderr.on('data', (c: Buffer) => (err += c))
    p.on('exit', (_code, signal) => resolve({ out, err, signal }))
  })
}

test('without OUTPOST_CRASH_AT every step runs', async () => {
  const r = await run(undefined)
  assert.equal(r.out, '1 2 3 end')
  assert.equal(r.signal, null)
})

test('NAME:N kills the process right after the Nth step, and says which', async () => {
  const r = await run('step:2')
  assert.equal(r.out, '1 2 ')
  assert.equal(r.signal, 'SIGKILL')
  assert.match(r.err, /crash point step \(#2\): killing the process/)
})

test('NAME:N:stop freezes it there instead, until it is killed', async () => {
  let state = ''
  const r = await run('step:2:stop', (out, pid) => {
    if (out !== '1 2 ') return
    // Stopped ("T" in /proc/PID/stat) once the freeze has taken hold.
    const poll = () => {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.charAt(0)
      if (state === 'T') process.kill(pid, 'SIGKILL')
      else setTimeout(poll, 20)
    }
    poll()
  })
  assert.equal(state, 'T')
  assert.equal(r.out, '1 2 ')
  assert.match(r.err, /crash point step \(#2\): freezing the process/)
})
