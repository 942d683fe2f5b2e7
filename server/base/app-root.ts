// The Outpost installation's own folder (where package.json is), whether
// running from dist/ or from the TypeScript sources.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | undefined

export function appRoot(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'outpost') return (cached = dir)
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the Outpost installation folder (package.json named "outpost")')
    dir = up
  }
}
