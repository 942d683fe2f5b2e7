// Reading a stick's entries: only plain files, never through a link, never
// blocking on a FIFO, never more than the cap; a folder that cannot be read
// is an error that says so, not an empty folder.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listStickFolder, readStickFile, StickFileError, summarizeStickFile } from '../../../server/bundle/stick-file.js'

function withDir(fn: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'op-sf-'))
  try {
    fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function problem(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof StickFileError) return `${err.problem}: ${err.message}`
    throw err
  }
  return 'read'
}

test('a FIFO, links and folders are refused unread; a plain file is read; a large one is refused at the cap', () =>
  withDir((dir) => {
    execFileSync('mkfifo', [join(dir, 'fifo.obundle')])
    symlinkSync('/dev/zero', join(dir, 'zero.obundle'))
    writeFileSync(join(dir, 'secret'), 'SECRET')
    symlinkSync(join(dir, 'secret'), join(dir, 'secret.obundle'))
    mkdirSync(join(dir, 'folder.obundle'))
    writeFileSync(join(dir, 'good.obundle'), 'bundle bytes')
    writeFileSync(join(dir, 'big.obundle'), Buffer.alloc(2048, 1))
    // Would block for good on the FIFO, or read /dev/zero until memory ran out.
    assert.match(problem(() => readStickFile(join(dir, 'fifo.obundle'), 1024)), /^not-a-file: .*named pipe \(FIFO\)/)
    assert.match(problem(() => readStickFile(join(dir, 'zero.obundle'), 1024)), /^not-a-file: .*symbolic link/)
    assert.match(problem(() => readStickFile(join(dir, 'secret.obundle'), 1024)), /^not-a-file: .*symbolic link/)
    assert.match(problem(() => readStickFile(join(dir, 'folder.obundle'), 1024)), /^not-a-file: .*folder/)
    assert.match(problem(() => readStickFile(join(dir, 'big.obundle'), 1024)), /^too-large: .*2048 bytes, more than the 1024/)
    assert.equal(readStickFile(join(dir, 'good.obundle'), 1024).toString(), 'bundle bytes')
    const s = summarizeStickFile(join(dir, 'big.obundle'), 100)
    assert.equal(s.size, 2048)
    assert.equal(s.head.length, 100)
    assert.match(s.sha256, /^[0-9a-f]{64}$/)
  }))

test('a stick folder: absent is empty, a file or a link where it should be is named, a listed one gives its names', () =>
  withDir((dir) => {
    assert.deepEqual(listStickFolder(join(dir, 'none')), { kind: 'absent' })
    writeFileSync(join(dir, 'file'), 'x')
    assert.deepEqual(listStickFolder(join(dir, 'file')), { kind: 'not-a-folder', what: 'file' })
    mkdirSync(join(dir, 'real'))
    writeFileSync(join(dir, 'real', 'a.obundle'), 'x')
    symlinkSync(join(dir, 'real'), join(dir, 'link'))
    assert.deepEqual(listStickFolder(join(dir, 'link')), { kind: 'not-a-folder', what: 'symbolic link' })
    assert.deepEqual(listStickFolder(join(dir, 'real')), { kind: 'listed', names: ['a.obundle'] })
  }))

test('a stick folder that cannot be read is an error that says what to do, not an empty folder', () =>
  withDir((dir) => {
    chmodSync(dir, 0o755)
    const locked = join(dir, 'locked')
    mkdirSync(locked, { mode: 0o000 })
    chmodSync(locked, 0o000)
    if (process.getuid?.() !== 0) {
      assert.match(problem(() => listStickFolder(locked)), /^unreadable: .*locked cannot be read \(EACCES\).*copy what you can/)
      return
    }
    // Root reads any folder: ask as nobody, the way a stick with bad permissions looks to the outpost user.
    const mod = fileURLToPath(new URL('../../../server/bundle/stick-file.ts', import.meta.url))
    const script = `import(${JSON.stringify(mod)}).then((m) => { try { console.log(JSON.stringify(m.listStickFolder(${JSON.stringify(locked)}))) } catch (e) { console.log(e.problem + ': ' + e.message) } })`
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../../', import.meta.url)), env: { ...process.env, HOME: '/tmp' } })
    assert.match(r.stdout, /^unreadable: .*locked cannot be read \(EACCES\).*copy what you can/, r.stderr)
  }))
