// Builds Outpost: TypeScript → dist/ (ESM, for the CLI and the node), and each
// Haraka plugin → one CommonJS bundle in a folder plugin (Haraka loads folder
// plugins with require(), and a .ts file in plugins/ would not load at all).
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

const tsc = require.resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root })

const esbuild = require('esbuild')

// The command line once more, as one CommonJS bundle,
// dist/server/cli-bundle/cli.cjs, with drizzle-orm inside it: a view such as
// `outpost status` loaded about 180 modules, 113 of them drizzle-orm's, and
// loading modules was most of its time. CommonJS, because then the bundle
// can be compiled with V8's code cache (server/base/code-cache.ts), which
// Node 20 offers for no ES module. Packages stay outside and come from
// node_modules. `import()` becomes `require()`, so the bundle needs no
// loader for ES modules: age-encryption, an ES module only, comes in through
// Node's require(esm) (on by default from Node 20.19, which package.json's
// engines asks for). `outpost start` keeps running
// from dist/ as tsc wrote it (bin/outpost.mjs says why), so the node's own
// modules stay out of the bundle.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const cliOut = join(root, 'dist/server/cli-bundle')
rmSync(cliOut, { recursive: true, force: true })
await esbuild.build({
  entryPoints: [join(root, 'server/cli/main.ts')],
  outfile: join(cliOut, 'cli.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  supported: { 'dynamic-import': false },
  charset: 'ascii',
  external: Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).filter((d) => d !== 'drizzle-orm'),
  plugins: [
    {
      // `start` runs from dist/ (bin/outpost.mjs), never from the bundle.
      name: 'node-stays-out',
      setup(b) {
        b.onResolve({ filter: /^\.\.\/node\/start\.js$/ }, () => ({ path: '../node/start.js', external: true }))
      },
    },
  ],
  banner: { js: "const __outpost_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__outpost_import_meta_url' },
  logLevel: 'warning',
})
// Its loader, CommonJS too, so that bin/outpost.mjs loads no ES module
// besides itself before the command runs.
await esbuild.build({
  entryPoints: [join(root, 'server/base/code-cache.ts')],
  outfile: join(cliOut, 'load.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
})
// The bundle's first code cache, made by running the views of a throw-away
// node, so that it holds what they compile (a command whose cache V8 refuses,
// under another Node or other flags, writes a fresh one).
{
  const warm = mkdtempSync(join(tmpdir(), 'outpost-code-cache-'))
  try {
    const cli = (...args) => execFileSync(process.execPath, [join(root, 'bin/outpost.mjs'), ...args, '--data', join(warm, 'node')], { stdio: 'ignore', cwd: root, env: { ...process.env, OUTPOST_CODE_CACHE: 'refresh' } })
    cli('init', '--domain', 'warm-up.invalid', '--host', '127.0.0.1')
    // What `init` compiled (keys, certificate) would only make every view's cache bigger.
    for (const f of readdirSync(cliOut)) if (f.endsWith('.cache')) rmSync(join(cliOut, f))
    for (const view of [['status'], ['queue'], ['account', 'list'], ['peer', 'list'], ['route', 'list'], ['transport', 'list'], ['clock'], ['--help']]) cli(...view)
  } finally {
    rmSync(warm, { recursive: true, force: true })
  }
}
const pluginSrc = join(root, 'server/haraka/plugins')
const pluginOut = join(root, 'dist/haraka-plugins')
rmSync(pluginOut, { recursive: true, force: true })
mkdirSync(pluginOut, { recursive: true })
const names = readdirSync(pluginSrc)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort()
// All plugins go into ONE bundle: they share drizzle, the database code and
// hash-wasm, and Haraka is one process, so one copy of each keeps its memory
// down. Each folder plugin then picks its own part of that bundle.
const entry = names.map((n) => `export * as ${n} from './${n}.js'`).join('\n') + '\n'
esbuild.buildSync({
  stdin: { contents: entry, resolveDir: pluginSrc, sourcefile: 'haraka-plugins.ts', loader: 'ts' },
  outfile: join(pluginOut, 'outpost-plugins.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // A separate map file: parsed only when source maps are switched on,
  // instead of megabytes of inline map text in every Haraka process.
  sourcemap: 'linked',
  // Native and Haraka-provided modules stay outside the bundle and are
  // resolved from the checkout's node_modules at run time.
  external: ['better-sqlite3', 'haraka-constants', 'haraka-net-utils', 'haraka-utils'],
  // Shared modules find the installation through import.meta.url; in a
  // CommonJS bundle that comes from the bundle's own file name.
  banner: { js: "const __outpost_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__outpost_import_meta_url' },
  logLevel: 'warning',
})
for (const name of names) {
  const dir = join(pluginOut, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'index.cjs'), `module.exports = require('../outpost-plugins.cjs').${name}\n`)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, main: 'index.cjs' }, null, 2) + '\n')
}

// The web admin (Svelte + Vite) → dist/web, which `outpost start` serves.
const { build: viteBuild } = await import('vite')
await viteBuild({ configFile: join(root, 'web/vite.config.ts'), logLevel: 'warn' })

// The outpost_push Dovecot plugin (server/dovecot/push-plugin/), compiled
// against the installed Dovecot when dovecot-dev and a C compiler are there;
// without them the node runs with Dovecot's stock push, and this says so.
execFileSync('bash', [join(root, 'server/dovecot/push-plugin/build.sh'), '--quiet-if-unavailable', join(root, 'dist')], { stdio: 'inherit', cwd: root })
