// Runs the test suite with Node's own test runner, tier by tier:
//   node test/run.mjs              unit, integration, e2e, fuzz, then trixie
//   node test/run.mjs unit         one tier (unit | integration | e2e | fuzz | trixie)
// The unit tier includes the web app's component tests (vitest + jsdom,
// beside the code in web/src).
// Unit tests need no network or root; integration and e2e tests start the
// real Dovecot, Haraka and Delta Chat core on loopback. The fuzz tier feeds a
// running node hostile input with a fixed seed. The trixie tier runs
// the Dovecot-facing ones again inside a Debian 13 root (Dovecot 2.4, Debian's
// Node 20.19: the users' system), plus the tests in test/trixie that install
// Outpost into fresh trixie roots the way a user does.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const TIERS = ['unit', 'integration', 'e2e', 'fuzz', 'trixie']
// What the users' system must pass too: every test that starts Dovecot or
// renders its config or drives doveadm, the CLI, and one real Delta Chat chat.
const TRIXIE_FILES = [
  'test/unit/build/engines.test.ts',
  'test/unit/dovecot/config.test.ts',
  'test/integration/dovecot/dovecot.test.ts',
  'test/integration/dovecot/push.test.ts',
  'test/integration/delivery/bulk-store.test.ts',
  'test/integration/cli/cli.test.ts',
  'test/integration/node/lifecycle.test.ts',
  'test/integration/node/logins.test.ts',
  'test/integration/haraka/smtp.test.ts',
  'test/e2e/two-phones.test.ts',
]
const wanted = process.argv.slice(2)
for (const t of wanted) if (!TIERS.includes(t)) {
  console.error(`unknown tier "${t}"; choose from ${TIERS.join(', ')}`)
  process.exit(2)
}

function find(dir) {
  const out = []
  let names
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
if (r.status !== 0) failed = true
if (tiers.includes('trixie')) {
  const t = spawnSync('bash', [join(here, 'trixie', 'run.sh'), ...TRIXIE_FILES], { stdio: 'inherit', cwd: join(here, '..') })
  if (t.status !== 0) {
    console.error('the trixie tier failed')
    failed = true
  }
}
process.exit(failed ? 1 : 0)
