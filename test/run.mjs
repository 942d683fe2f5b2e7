// Runs the test suite with Node's own test runner, tier by tier:
//   node test/run.mjs              unit, then integration, then e2e
//   node test/run.mjs unit         one tier (unit | integration | e2e)
// The unit tier includes the web app's component tests (vitest + jsdom,
// beside the code in web/src).
// Unit tests need no network or root; integration and e2e tests start the
// real Dovecot, Haraka and Delta Chat core on loopback.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const TIERS = ['unit', 'integration', 'e2e']
const wanted = process.argv.slice(2)
for (const t of wanted) if (!TIERS.includes(t)) {
  console.error(`unknown tier "${t}"; choose from ${TIERS.join(', ')}`)
  process.exit(2)
}

function find(dir) {
  const out = []
  let names = []
  try { names = readdirSync(dir) } catch { return out }
  for (const n of names.sort()) {
    const p = join(dir, n)
    if (statSync(p).isDirectory()) out.push(...find(p))
    else if (n.endsWith('.test.ts')) out.push(p)
  }
  return out
}

const tiers = wanted.length ? wanted : TIERS
let failed = false
if (tiers.includes('unit')) {
  const vitest = join(here, '..', 'node_modules', 'vitest', 'vitest.mjs')
  const v = spawnSync(process.execPath, [vitest, 'run', '--config', 'web/vite.config.ts'], { stdio: 'inherit', cwd: join(here, '..') })
  if (v.status !== 0) {
    console.error('web component tests failed')
    failed = true
  }
}
const files = tiers.flatMap((t) => find(join(here, t)))
if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}
// One file at a time: the machine has two cores, and integration tests each
// run a whole node.
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit', cwd: join(here, '..') })
process.exit(failed ? 1 : (r.status ?? 1))
