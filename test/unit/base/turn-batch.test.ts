import { test } from 'node:test'
import assert from 'node:assert/strict'
import { batchPerTurn } from '../../../server/base/turn-batch.js'

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

test('items pushed in one turn are handed on together at the next, in order; an explicit flush hands them on at once', async () => {
  const calls: number[][] = []
  const b = batchPerTurn<number>((items) => calls.push(items))
  b.push(1)
  b.push(2)
  b.push(3)
  assert.deepEqual(calls, [], 'nothing before the turn ends')
  await nextTurn()
  assert.deepEqual(calls, [[1, 2, 3]])

  b.push(4)
  b.flush()
  assert.deepEqual(calls, [[1, 2, 3], [4]])
  await nextTurn()
  b.flush()
  assert.deepEqual(calls, [[1, 2, 3], [4]], 'an empty batch is never handed on')

  b.push(5)
  await nextTurn()
  assert.deepEqual(calls, [[1, 2, 3], [4], [5]])
})
