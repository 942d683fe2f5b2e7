// Builds Outpost: TypeScript → dist/ (ESM, for the CLI and the node), and each
// Haraka plugin → one CommonJS bundle in a folder plugin (Haraka loads folder
// plugins with require(), and a .ts file in plugins/ would not load at all).
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

const tsc = require.resolve('typescript/bin/tsc')
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root })

const esbuild = require('esbuild')
const pluginSrc = join(root, 'server/haraka/plugins')
const pluginOut = join(root, 'dist/haraka-plugins')
rmSync(pluginOut, { recursive: true, force: true })
for (const file of readdirSync(pluginSrc)) {
  if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue
  const name = file.slice(0, -3)
  const dir = join(pluginOut, name)
  mkdirSync(dir, { recursive: true })
  esbuild.buildSync({
    entryPoints: [join(pluginSrc, file)],
    outfile: join(dir, 'index.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    // Native and Haraka-provided modules stay outside the bundle and are
    // resolved from the checkout's node_modules at run time.
    external: ['better-sqlite3', 'haraka-constants', 'haraka-net-utils', 'haraka-utils'],
    // Shared modules find the installation through import.meta.url; in a
    // CommonJS bundle that comes from the bundle's own file name.
    banner: { js: "const __outpost_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__outpost_import_meta_url' },
    logLevel: 'warning',
  })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, main: 'index.cjs' }, null, 2) + '\n')
}
