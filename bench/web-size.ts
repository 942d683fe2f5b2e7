// The web admin's download: every file of the built app (dist/web) gzipped
// at level 9, as a phone fetches it over the box's Wi-Fi, against the 200 KB
// budget (issue 5: "the built bundle for the admin is under 200 KB gzipped").
//
//   node --import tsx bench/web-size.ts      (after `node build/build.mjs`)
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { gzipSync } from 'node:zlib'
import { ratio } from './percentiles.js'

export const WEB_BUDGET_KB = 200
const WEB_DIST = fileURLToPath(new URL('../dist/web', import.meta.url))

export interface WebFile {
  path: string
  bytes: number
  gzipBytes: number
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : [p]
  })
}

export function measureWeb(dir = WEB_DIST): WebFile[] {
  let list: string[]
  try {
    list = files(dir)
  } catch {
    throw new Error(`no built web app in ${dir}: run \`node build/build.mjs\` first`)
  }
  return list
    .map((p) => {
      const data = readFileSync(p)
      return { path: relative(dir, p), bytes: data.length, gzipBytes: gzipSync(data, { level: 9 }).length }
    })
    .sort((a, b) => b.gzipBytes - a.gzipBytes)
}

export function benchWebSize(out: (line: string) => void, dir = WEB_DIST): number {
  const list = measureWeb(dir)
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`
  const gz = list.reduce((a, f) => a + f.gzipBytes, 0)
  const raw = list.reduce((a, f) => a + f.bytes, 0)
  out(`  web admin, ${list.length} files: ${kb(gz)} gzipped (${kb(raw)} raw), budget ${WEB_BUDGET_KB} KB, ratio ${ratio(gz / 1024, WEB_BUDGET_KB)}`)
  for (const f of list) out(`    ${f.path.padEnd(40)} ${kb(f.gzipBytes).padStart(10)} gzipped  ${kb(f.bytes).padStart(10)} raw`)
  return gz
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const gz = benchWebSize((l) => process.stdout.write(l + '\n'))
  if (gz / 1024 > WEB_BUDGET_KB) process.exitCode = 1
}
