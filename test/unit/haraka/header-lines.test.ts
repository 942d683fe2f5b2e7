import { test } from 'node:test'
import assert from 'node:assert/strict'
import { firstBadHeaderLine } from '../../../server/haraka/lib/header-lines.js'

test('header lines: fields and continuations pass, anything else is named by its line', () => {
  assert.equal(firstBadHeaderLine(['From: a@x\n', 'Subject: a\n', '  folded\n', 'X-Empty:\n']), null)
  assert.deepEqual(firstBadHeaderLine(['From: a@x\n', 'From : b@y\n']), { line: 2, text: 'From : b@y' })
  assert.deepEqual(firstBadHeaderLine([' x: y\n', 'From: a@x\n']), { line: 1, text: ' x: y' })
  assert.deepEqual(firstBadHeaderLine(['From: a@x\n', 'no colon here\n']), { line: 2, text: 'no colon here' })
  assert.deepEqual(firstBadHeaderLine([': empty name\n']), { line: 1, text: ': empty name' })
  assert.equal(firstBadHeaderLine(['From: a@x\n', `X: ${'a'.repeat(100)}\n`, `Bad\u00e9 line ${'b'.repeat(100)}\n`])?.text, `Bad? line ${'b'.repeat(50)}...`)
})
