#!/usr/bin/env node
// The `outpost` command. The TypeScript sources are compiled to dist/ by
// `npm ci` (the prepare script) or `npm run build`.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// Node 20 calls X25519 in Web Crypto experimental and says so once per
// process, on the user's terminal, the first time a key is made or a bundle
// opened (age-encryption uses it, with a pure-JS fallback). The algorithm is
// stable from Node 22 on; a user has nothing to do about it, so that one
// warning is dropped and every other still shows.
const emitWarning = process.emitWarning
process.emitWarning = function (warning, ...rest) {
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type
  if (type === 'ExperimentalWarning' && /\bX25519\b/.test(String(warning))) return
  return emitWarning.call(process, warning, ...rest)
}

const main = new URL('../dist/server/cli/main.js', import.meta.url)
if (!existsSync(fileURLToPath(main))) {
  console.error('outpost: not built yet. Run `npm ci` (or `npm run build`) in the Outpost checkout first.')
  process.exit(1)
}
// `outpost export` and `outpost usb offload` carry the whole outbox, so they
// run with the node's own V8 flags and a one-thread libuv pool
// (dist/server/base/v8-flags.js), however they are started: an export of
// 100,000 messages peaked 43 MB above idle with the flags alone, 28 MB with
// both (bench/scale.ts). The pool's size is fixed when Node starts, so the
// command starts again; a second Node start (about 0.1 s) is nothing beside
// such an export.
if (process.argv[2] === 'export' || process.argv[2] === 'usb') {
  const { NODE_FLAGS, EXPORT_ENV } = await import(new URL('../dist/server/base/v8-flags.js', import.meta.url).href)
  const envSet = Object.entries(EXPORT_ENV).every(([k, v]) => process.env[k] === v)
  if (!envSet || !NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
    const { spawnSync } = await import('node:child_process')
    const args = [...process.execArgv, ...NODE_FLAGS.filter((f) => !process.execArgv.includes(f)), fileURLToPath(import.meta.url), ...process.argv.slice(2)]
    const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, ...EXPORT_ENV } })
    if (r.error) throw r.error
    if (r.signal) process.kill(process.pid, r.signal)
    process.exit(r.status ?? 1)
  }
}
// Every command but `start` runs from the bundled command line
// (build/build.mjs), one CommonJS file compiled with V8's code cache
// (server/base/code-cache.ts): a command such as `outpost status`
// starts in about a quarter less CPU time than from the modules tsc wrote.
// The node itself runs from dist/ as tsc wrote it, as its tests and memory
// figures measured it, and its start-up happens once.
const bundle = fileURLToPath(new URL('../dist/server/cli-bundle/cli.cjs', import.meta.url))
if (process.argv[2] === 'start' || !existsSync(bundle)) {
  const { run } = await import(main.href)
  process.exitCode = await run(process.argv.slice(2))
} else {
  const { createRequire } = await import('node:module')
  const { codeCacheFile, loadWithCodeCache } = createRequire(import.meta.url)('../dist/server/cli-bundle/load.cjs')
  const cli = loadWithCodeCache(bundle, codeCacheFile(bundle))
  process.exitCode = await cli.exports.run(process.argv.slice(2))
  cli.saveIfStale()
}
