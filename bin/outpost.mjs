#!/usr/bin/env node
// The `outpost` command. The TypeScript sources are compiled to dist/ by
// `npm ci` (the prepare script) or `npm run build`.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const main = new URL('../dist/server/cli/main.js', import.meta.url)
if (!existsSync(fileURLToPath(main))) {
  console.error('outpost: not built yet. Run `npm ci` (or `npm run build`) in the Outpost checkout first.')
  process.exit(1)
}
const { run } = await import(main.href)
process.exitCode = await run(process.argv.slice(2))
