// Loads a CommonJS bundle through V8's code cache, for the command line.
//
// Every `outpost` command is a new Node process, and before it does anything
// it compiles the bundled command line (about 1 MB of JavaScript). Node 22
// keeps a compile cache for that (module.enableCompileCache); Node 20, which
// the box runs, has none for ES modules. So the command line is bundled as
// one CommonJS file (build/build.mjs) and compiled here with vm.Script, which
// takes V8's cached data: the compiled functions of an earlier run, checked by
// V8 against the source and its own version and flags, and refused (then
// compiled as usual) when anything differs.
//
// The cache sits next to the bundle. It is written by the build and written
// again after a command whenever V8 refused it or there was none: another
// Node version, other V8 flags, a damaged file. It is written only when it
// can be (a read-only installation, another user's file: the command runs
// without it), as tmp + rename so that a reader never sees half a cache.
// Nothing durable depends on it: at worst a command compiles as before.
import { createHash } from 'node:crypto'
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, basename } from 'node:path'
import vm from 'node:vm'

/**
 * Where the cache of `file` lives for this Node and these V8 flags: V8
 * refuses a cache made under other flags, and `outpost export` runs with the
 * node's flags (bin/outpost.mjs), so each set keeps its own file instead of
 * the two overwriting each other.
 */
export function codeCacheFile(file: string, version = process.version, execArgv = process.execArgv): string {
  const key = createHash('sha256').update(`${version}\0${execArgv.join('\0')}`).digest('hex').slice(0, 12)
  return join(dirname(file), `${basename(file).replace(/\.c?js$/, '')}.${key}.cache`)
}

export interface CachedModule {
  exports: Record<string, unknown>
  /** What happened to the cache: 'used', 'rejected' (damaged, or refused by V8), or 'none' (no file). */
  cache: 'used' | 'rejected' | 'none'
  /**
   * Writes the cache if V8 refused it or there was none (or
   * OUTPOST_CODE_CACHE=refresh asks for it); call after the
   * module's work, so that the functions it compiled on the way are in it.
   * Never throws. Returns whether a cache file was written.
   */
  saveIfStale(): boolean
}

const digest = (...parts: Array<string | Buffer>) => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

/**
 * The cached data in `file`, checked against the SHA-256 of the source and
 * the data written before it. V8 checks that a cache fits its version and
 * flags, but of the source only its length, and a release build does not
 * checksum what it deserializes: a cache left from another build of the
 * same length, or a damaged file (a cut write, a bad sector), would reach it
 * unnoticed.
 */
function readCache(file: string, source: string): Buffer | undefined | 'damaged' {
  let raw: Buffer
  try {
    raw = readFileSync(file)
  } catch {
    return undefined
  }
  if (raw.length <= 32) return 'damaged'
  const data = raw.subarray(32)
  return digest(source, data).equals(raw.subarray(0, 32)) ? data : 'damaged'
}

/** Loads `file` (a CommonJS module) compiled with the code cache in `cacheFile`. */
export function loadWithCodeCache(file: string, cacheFile: string): CachedModule {
  const source = readFileSync(file, 'utf8')
  const stored = readCache(cacheFile, source)
  const cachedData = stored === 'damaged' ? undefined : stored
  // The wrapper Node itself puts around a CommonJS module.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
    // The build turns the bundle's `import()` into `require()`. Should one be
    // left, it goes to Node's own loader, as in a module that Node loaded.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  })
  const cache = stored === 'damaged' || script.cachedDataRejected ? 'rejected' : cachedData === undefined ? 'none' : 'used'
  const module = { exports: {} as Record<string, unknown> }
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  return {
    get exports() {
      return module.exports
    },
    cache,
    saveIfStale() {
      // OUTPOST_CODE_CACHE=refresh: write it even so, with what this run
      // added (the build does, over several commands).
      if (cache === 'used' && process.env.OUTPOST_CODE_CACHE !== 'refresh') return false
      const tmp = `${cacheFile}.${process.pid}.tmp`
      try {
        const data = script.createCachedData()
        writeFileSync(tmp, Buffer.concat([digest(source, data), data]))
        renameSync(tmp, cacheFile)
        return true
      } catch {
        try {
          unlinkSync(tmp)
        } catch {
          // Never written.
        }
        return false
      }
    },
  }
}
