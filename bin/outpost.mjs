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
const { run } = await import(main.href)
process.exitCode = await run(process.argv.slice(2))
