import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFileDurable } from '../../../server/base/durable.js'

test('writeFileDurable leaves the finished file and no tmp file behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-dur-'))
  try {
    const p = join(dir, 'sub', 'file.txt')
    writeFileDurable(p, 'hello', 0o600)
    writeFileDurable(p, 'hello again', 0o600)
    assert.equal(readFileSync(p, 'utf8'), 'hello again')
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['file.txt'])
    assert.equal(statSync(p).mode & 0o777, 0o600)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
