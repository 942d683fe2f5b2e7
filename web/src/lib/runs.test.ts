import { describe, expect, it } from 'vitest'
import { Runs, progressOf } from './runs.svelte.ts'
import type { OutpostEvent, OutpostEvents } from './api.ts'

let at = 1000
const ev = (data: Partial<OutpostEvents['transport.run']>): OutpostEvent<'transport.run'> => ({
  id: 0,
  at: at++,
  kind: 'transport.run',
  data: { transportId: 4, peer: 'town', kind: 'http', phase: 'start', ...data },
})

describe('transport run progress', () => {
  it('goes from unknown (indeterminate) through done/total to complete', () => {
    const r = new Runs()
    r.apply(ev({ phase: 'start' }))
    expect(r.byTransport[4]).toMatchObject({ phase: 'start', fraction: null })
    expect(r.running(4)).toBe(true)
    r.apply(ev({ phase: 'progress', done: 1, total: 4 }))
    expect(r.byTransport[4]!.fraction).toBe(0.25)
    r.apply(ev({ phase: 'progress', done: 3, total: 4 }))
    expect(r.byTransport[4]!.fraction).toBe(0.75)
    r.apply(ev({ phase: 'done' }))
    expect(r.byTransport[4]).toMatchObject({ phase: 'done', fraction: 1 })
    expect(r.running(4)).toBe(false)
  })

  it('keeps the error of a failed run to show', () => {
    const r = new Runs()
    r.apply(ev({ phase: 'start' }))
    r.apply(ev({ phase: 'error', error: 'town.test:8443 refused the connection' }))
    expect(r.byTransport[4]).toMatchObject({ phase: 'error', error: 'town.test:8443 refused the connection' })
    expect(r.running(4)).toBe(false)
  })

  it('never moves the bar back for a progress event that arrives late', () => {
    const r = new Runs()
    const early = ev({ phase: 'progress', done: 1, total: 10 })
    const late = ev({ phase: 'progress', done: 8, total: 10 })
    r.apply(late)
    r.apply(early)
    expect(r.byTransport[4]!.fraction).toBe(0.8)
  })

  it('keeps runs of different transports apart', () => {
    const r = new Runs()
    r.apply(ev({ phase: 'progress', done: 1, total: 2 }))
    r.apply(ev({ transportId: 9, phase: 'start' }))
    expect(r.byTransport[4]!.fraction).toBe(0.5)
    expect(r.byTransport[9]!.fraction).toBeNull()
  })

  it('clamps odd counts and treats an empty run as complete', () => {
    expect(progressOf(ev({ phase: 'progress', done: 12, total: 10 })).fraction).toBe(1)
    expect(progressOf(ev({ phase: 'progress', done: 3, total: 0 })).fraction).toBeNull()
    expect(progressOf(ev({ phase: 'start', total: 0 })).fraction).toBe(1)
  })

  it('shows a bar at once when "Run now" is pressed', () => {
    const r = new Runs()
    r.started(4)
    expect(r.running(4)).toBe(true)
    expect(r.byTransport[4]!.fraction).toBeNull()
  })
})
