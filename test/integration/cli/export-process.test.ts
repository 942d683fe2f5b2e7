// `outpost export` and `outpost usb offload` run in a process of their own
// make: the node's V8 flags and a one-thread libuv pool (v8-flags.ts), which
// bound what an export of a large outbox holds. The pool's size can only be
// set when Node starts, so bin/outpost.mjs starts the command again; every
// process the command runs in reports itself here through a preloaded hook.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { OUTPOST_BIN, runCli } from '../../helpers/node.js'
import { EXPORT_ENV, NODE_FLAGS } from '../../../server/base/v8-flags.js'

interface Seen {
  pool: string | null
  execArgv: string[]
  command: string | undefined
}

async function processesOf(args: string[], dir: string): Promise<{ code: number; seen: Seen[] }> {
  const hook = join(dir, 'hook.cjs')
  const out = join(dir, 'seen.jsonl')
  rmSync(out, { force: true })
  writeFileSync(
    hook,
    `require('node:fs').appendFileSync(${JSON.stringify(out)}, JSON.stringify({ pool: process.env.UV_THREADPOOL_SIZE ?? null, execArgv: process.execArgv, command: process.argv[2] }) + '\\n')`,
  )
  // Without a pool size of its own: as a shell starts the command.
  const env: Record<string, string> = { NODE_OPTIONS: `--require ${hook}` }
  const saved = process.env.UV_THREADPOOL_SIZE
  delete process.env.UV_THREADPOOL_SIZE
  try {
    const r = await runCli(args, env)
    const seen = existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Seen) : []
    return { code: r.code, seen }
  } finally {
    if (saved !== undefined) process.env.UV_THREADPOOL_SIZE = saved
  }
}

test('export runs again with the node flags and a one-thread pool, and its exit code comes through', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-export-process-'))
  try {
    const data = join(dir, 'node')
    assert.equal((await runCli(['init', '--data', data, '--domain', 'camp.test', '--host', '127.0.0.1'])).code, 0)
    const { code, seen } = await processesOf(['export', join(dir, 'missing'), '--data', data], dir)
    // The folder does not exist: the command's own error, from the inner process.
    assert.equal(code, 1)
    assert.equal(seen.length, 2, `two processes: ${JSON.stringify(seen)}`)
    const inner = seen.find((s) => s.pool === EXPORT_ENV.UV_THREADPOOL_SIZE)
    assert.ok(inner, `one process ran with UV_THREADPOOL_SIZE=${EXPORT_ENV.UV_THREADPOOL_SIZE}: ${JSON.stringify(seen)}`)
    for (const f of NODE_FLAGS) assert.ok(inner.execArgv.includes(f), `${f} in ${inner.execArgv.join(' ')}`)
    assert.equal(inner.execArgv.filter((a) => a === NODE_FLAGS[0]).length, 1, 'no flag is given twice')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('started with the flags and the pool already set (as outpost-usb@.service does), export runs in one process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-export-process-'))
  try {
    const data = join(dir, 'node')
    assert.equal((await runCli(['init', '--data', data, '--domain', 'camp.test', '--host', '127.0.0.1'])).code, 0)
    const hook = join(dir, 'hook.cjs')
    const out = join(dir, 'seen.jsonl')
    writeFileSync(hook, `require('node:fs').appendFileSync(${JSON.stringify(out)}, String(process.pid) + '\\n')`)
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, ['--require', hook, ...NODE_FLAGS, OUTPOST_BIN, 'export', join(dir, 'missing'), '--data', data], { env: { ...process.env, ...EXPORT_ENV }, stdio: 'ignore' })
      p.on('exit', resolve)
    })
    assert.equal(code, 1)
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 1, 'one process')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('other commands run in the process they were started in', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-export-process-'))
  try {
    const { code, seen } = await processesOf(['--help'], dir)
    assert.equal(code, 0)
    assert.equal(seen.length, 1, JSON.stringify(seen))
    assert.equal(seen[0]!.pool, null)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
