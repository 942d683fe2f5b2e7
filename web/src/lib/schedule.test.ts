import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ScheduleEditor } from './schedule.svelte.ts'
import type { SchedulePreview } from './api.ts'

describe('schedule preview', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('asks the box once, after typing pauses, for the last text typed', async () => {
    const fetchPreview = vi.fn(async (s: string): Promise<SchedulePreview> => ({ valid: true, text: `reading of ${s}`, next: [1, 2] }))
    const ed = new ScheduleEditor(fetchPreview, 300)
    for (const s of ['*', '*/', '*/1', '*/15', '*/15 * * * *']) {
      ed.set(s)
      await vi.advanceTimersByTimeAsync(100)
    }
    expect(fetchPreview).not.toHaveBeenCalled()
    expect(ed.loading).toBe(true)
    await vi.advanceTimersByTimeAsync(300)
    expect(fetchPreview).toHaveBeenCalledOnce()
    expect(fetchPreview).toHaveBeenCalledWith('*/15 * * * *')
    expect(ed.preview?.text).toBe('reading of */15 * * * *')
    expect(ed.loading).toBe(false)
  })

  it('never shows an older answer over a newer one', async () => {
    const resolvers: Array<(p: SchedulePreview) => void> = []
    const fetchPreview = vi.fn((s: string) => new Promise<SchedulePreview>((r) => resolvers.push((p) => r({ ...p, text: s }))))
    const ed = new ScheduleEditor(fetchPreview, 300)
    ed.set('0 6 * * *')
    await vi.advanceTimersByTimeAsync(300)
    ed.set('event')
    await vi.advanceTimersByTimeAsync(300)
    expect(fetchPreview).toHaveBeenCalledTimes(2)
    resolvers[1]!({ valid: true, next: [] })
    await vi.advanceTimersByTimeAsync(0)
    resolvers[0]!({ valid: true, next: [] })
    await vi.advanceTimersByTimeAsync(0)
    expect(ed.preview?.text).toBe('event')
  })

  it('shows the box\'s reason for a bad schedule, and a hint for an empty one without asking', async () => {
    const fetchPreview = vi.fn(async (): Promise<SchedulePreview> => ({ valid: false, error: 'minute field: 61 is out of range 0-59', next: [] }))
    const ed = new ScheduleEditor(fetchPreview, 300)
    ed.set('61 * * * *')
    await vi.advanceTimersByTimeAsync(300)
    expect(ed.preview).toMatchObject({ valid: false, error: 'minute field: 61 is out of range 0-59' })
    ed.set('   ')
    await vi.advanceTimersByTimeAsync(1000)
    expect(fetchPreview).toHaveBeenCalledOnce()
    expect(ed.preview?.error).toMatch(/Enter a schedule/)
  })

  it('says when the box could not be asked', async () => {
    const ed = new ScheduleEditor(async () => {
      throw new Error('The box did not answer')
    }, 300)
    ed.set('* * * * *')
    await vi.advanceTimersByTimeAsync(300)
    expect(ed.failed).toBe('The box did not answer')
    expect(ed.loading).toBe(false)
  })
})
