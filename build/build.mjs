// Builds Outpost: TypeScript → dist/ (ESM, for the CLI and the node), and each
// Haraka plugin → one CommonJS bundle in a folder plugin (Haraka loads folder
// plugins with require(), and a .ts file in plugins/ would not load at all).
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

const tsc = require.resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root })

const esbuild = require('esbuild')

// The command line once more, as one ESM bundle in dist/server/cli-bundle/
// (its lazily loaded commands as chunks), with drizzle-orm inside it: a
// view such as `outpost status` loaded about 180 modules, 113 of them
// drizzle-orm's, and loading modules was most of its time; bundled it
// starts about 0.1 s of CPU sooner. Native and other packages stay outside
// and come from node_modules. `outpost start` keeps running from dist/ as
// tsc wrote it (bin/outpost.mjs says why).
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const cliOut = join(root, 'dist/server/cli-bundle')
rmSync(cliOut, { recursive: true, force: true })
esbuild.buildSync({
  entryPoints: [join(root, 'server/cli/main.ts')],
  outdir: cliOut,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).filter((d) => d !== 'drizzle-orm'),
  logLevel: 'warning',
})
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
