// The quarantine keeps what could not be imported for a person to look at,
// within bounds: an item over the per-item cap or the total is kept as its
// head, size and hash; when not even that fits, or the count is reached,
// nothing is written and the caller is told to wait.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { quarantine, QuarantineFullError, safeName, type QuarantineLimits } from '../../../server/base/quarantine.js'

const KiB = 1024

function withDir(fn: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'op-q-'))
  try {
    fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const limits: QuarantineLimits = { maxBytes: 256 * KiB, maxItems: 3, maxItemBytes: 64 * KiB }

test('an item over the per-item cap is kept as its headers, with its size and sha256 in the reason', () =>
  withDir((dir) => {
    const headers = 'From: a@camp.test\r\nTo: b@town.test\r\nSubject: big\r\n\r\n'
    const big = Buffer.concat([Buffer.from(headers), Buffer.alloc(200 * KiB, 0x41)])
    const file = quarantine(dir, 'big.eml', big, 'no route for b@town.test', 0, limits)
    assert.equal(readFileSync(file, 'latin1'), headers)
    const reason = readFileSync(`${file}.reason.txt`, 'utf8')
    assert.match(reason, /no route for b@town\.test/)
    assert.match(reason, new RegExp(`whole was ${big.length} bytes with sha256 ${createHash('sha256').update(big).digest('hex')}`))
  }))

test('past the total, items are kept short; past the count, nothing is written and the error says what to do', () =>
  withDir((dir) => {
    quarantine(dir, 'a.obundle', Buffer.alloc(60 * KiB, 1), 'corrupt', 0, limits)
    quarantine(dir, 'b.obundle', Buffer.alloc(60 * KiB, 2), 'corrupt', 1000, limits)
    // 120 KiB used; with 60 more of the 256 it still fits, ...
    const third = quarantine(dir, 'c.obundle', Buffer.alloc(60 * KiB, 3), 'corrupt', 2000, limits)
    assert.equal(readFileSync(third).length, 60 * KiB)
    // ... but a fourth item is one too many.
    assert.throws(() => quarantine(dir, 'd.obundle', Buffer.alloc(10), 'corrupt', 3000, limits), (err: Error) => err instanceof QuarantineFullError && /is full \(3 items.*remove it to make room/.test(err.message))
    assert.equal(readdirSync(dir).filter((n) => !n.endsWith('.reason.txt')).length, 3)
  }))

test('an item that would take the quarantine over its total is kept as its head', () =>
  withDir((dir) => {
    const small = { ...limits, maxItems: 100 }
    for (let i = 0; i < 4; i++) quarantine(dir, `f${i}.obundle`, Buffer.alloc(60 * KiB, i), 'corrupt', i * 1000, small)
    const total = readdirSync(dir).reduce((n, f) => n + readFileSync(join(dir, f)).length, 0)
    assert.ok(total <= small.maxBytes, `the quarantine holds ${total} bytes, at most ${small.maxBytes}`)
  }))

test('a name of 255 bytes from a stick still fits with the time stamp and .reason.txt', () =>
  withDir((dir) => {
    const long = `${'x'.repeat(247)}.obundle`
    const file = quarantine(dir, long, Buffer.from('junk'), 'corrupt')
    assert.ok(file.split('/').pop()!.length + '.reason.txt'.length <= 255)
    assert.notEqual(safeName(long), safeName(`${'x'.repeat(246)}y.obundle`), 'two long names stay apart')
  }))
