import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Resource } from './resource.svelte.ts'

describe('Resource', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('polls in the background (never extending the session) after a first load a person asked for', async () => {
    const fetcher = vi.fn(async (background: boolean) => ({ background }))
    const r = new Resource(fetcher)
    const stop = r.poll(10_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(fetcher).toHaveBeenLastCalledWith(false)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(fetcher).toHaveBeenLastCalledWith(true)
    expect(fetcher).toHaveBeenCalledTimes(2)
    stop()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(fetcher).toHaveBeenCalledTimes(2)
  })

  it('turns a burst of live events into one reload', async () => {
    const fetcher = vi.fn(async () => 1)
    const r = new Resource(fetcher)
    for (let i = 0; i < 50; i++) r.soon(1000)
    await vi.advanceTimersByTimeAsync(1000)
    expect(fetcher).toHaveBeenCalledOnce()
    expect(fetcher).toHaveBeenCalledWith(true)
  })

  it('keeps the last data and shows the error when a reload fails', async () => {
    let fail = false
    const r = new Resource(async () => {
      if (fail) throw new Error('The box did not answer')
      return 'data'
    })
    await r.load()
    fail = true
    await r.load(true)
    expect(r.data).toBe('data')
    expect(r.error).toBe('The box did not answer')
  })
})
