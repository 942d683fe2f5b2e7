import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { codeCacheFile, loadWithCodeCache } from '../../../server/base/code-cache.js'

// A module with enough in it for V8 to have something to cache, that
// reports how it was loaded: its own file name, `require` and `module`.
const SOURCE = `
const { basename } = require('node:path')
function add(a, b) { return a + b }
module.exports = { name: basename(__filename), sum: [1, 2, 3].reduce(add, 0), lazy: () => 'ran' }
`

function fixture(): { dir: string; file: string; cache: string } {
  const dir = mkdtempSync(join(tmpdir(), 'code-cache-'))
  const file = join(dir, 'mod.cjs')
  writeFileSync(file, SOURCE)
  return { dir, file, cache: codeCacheFile(file) }
}

test('the first load writes the cache, the next one uses it', () => {
  const { dir, file, cache } = fixture()
  try {
    const first = loadWithCodeCache(file, cache)
    assert.equal(first.cache, 'none')
    assert.deepEqual({ name: first.exports.name, sum: first.exports.sum }, { name: 'mod.cjs', sum: 6 })
    assert.equal(first.saveIfStale(), true)
    assert.ok(readFileSync(cache).length > 0)

    const second = loadWithCodeCache(file, cache)
    assert.equal(second.cache, 'used')
    assert.equal((second.exports.lazy as () => string)(), 'ran')
    assert.equal(second.saveIfStale(), false, 'a cache V8 took is left alone')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a damaged cache is refused by V8, the module still runs, and the cache is made again', () => {
  const { dir, file, cache } = fixture()
  try {
    loadWithCodeCache(file, cache).saveIfStale()
    const good = readFileSync(cache)
    const bad = Buffer.from(good)
    for (let i = 0; i < bad.length; i += 7) bad[i] = bad[i]! ^ 0xff
    writeFileSync(cache, bad)

    const m = loadWithCodeCache(file, cache)
    assert.equal(m.cache, 'rejected')
    assert.equal(m.exports.sum, 6)
    assert.equal(m.saveIfStale(), true)
    assert.equal(loadWithCodeCache(file, cache).cache, 'used')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a cache made for another source of the same length is refused', () => {
  const { dir, file, cache } = fixture()
  try {
    loadWithCodeCache(file, cache).saveIfStale()
    // V8 itself compares only the length of the source.
    writeFileSync(file, SOURCE.replace('a + b', 'b + a'))
    const m = loadWithCodeCache(file, cache)
    assert.equal(m.cache, 'rejected')
    assert.equal(m.exports.sum, 6)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('where the cache cannot be written, the command runs without it and leaves nothing behind', () => {
  const { dir, file } = fixture()
  try {
    // A folder that does not exist: unwritable for root too.
    const cache = join(dir, 'missing', 'mod.cache')
    const m = loadWithCodeCache(file, cache)
    assert.equal(m.cache, 'none')
    assert.equal(m.saveIfStale(), false)
    assert.deepEqual(readdirSync(dir).sort(), ['mod.cjs'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('each Node version and set of V8 flags has its own cache file', () => {
  const file = '/opt/outpost/dist/server/cli-bundle/cli.cjs'
  const plain = codeCacheFile(file, 'v20.19.2', [])
  assert.match(plain, /^\/opt\/outpost\/dist\/server\/cli-bundle\/cli\.[0-9a-f]{12}\.cache$/)
  assert.equal(codeCacheFile(file, 'v20.19.2', []), plain)
  assert.notEqual(codeCacheFile(file, 'v20.19.2', ['--max-old-space-size=64']), plain)
  assert.notEqual(codeCacheFile(file, 'v22.12.0', []), plain)
})
