import { describe, expect, it } from 'vitest'
import { layout, niceMax, ticks } from './chart.ts'

const day = (d: string, received: number, sent: number, local: number) => ({ day: d, received, sent, local })

describe('chart scaling', () => {
  it('rounds the axis up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax(0)).toBe(1)
    expect(niceMax(1)).toBe(1)
    expect(niceMax(3)).toBe(5)
    expect(niceMax(7)).toBe(10)
    expect(niceMax(12)).toBe(20)
    expect(niceMax(180)).toBe(200)
    expect(niceMax(201)).toBe(500)
  })

  it('gives whole-number ticks from 0 to the top', () => {
    expect(ticks(20)).toEqual([0, 5, 10, 15, 20])
    expect(ticks(1)).toEqual([0, 1])
    expect(ticks(5)).toEqual([0, 2, 4])
  })

  it('makes the tallest bar reach the top in proportion, and zero bars flat on the axis', () => {
    const l = layout([day('2026-11-24', 10, 0, 5), day('2026-11-25', 20, 2, 0)], 320, 160)
    expect(l.top).toBe(20)
    const bottom = l.plot.y + l.plot.height
    const tallest = l.columns[1]!.bars[0]!
    expect(tallest.height).toBeCloseTo(l.plot.height)
    expect(tallest.y).toBeCloseTo(l.plot.y)
    expect(l.columns[0]!.bars[0]!.height).toBeCloseTo(l.plot.height / 2)
    expect(l.columns[0]!.bars[1]!.height).toBe(0)
    expect(l.columns[0]!.bars[1]!.y).toBeCloseTo(bottom)
    expect(l.ticks.at(-1)).toEqual({ value: 20, y: l.plot.y })
  })

  it('keeps every bar inside the view box, 14 days at phone width', () => {
    const days = Array.from({ length: 14 }, (_, i) => day(`2026-11-${String(i + 1).padStart(2, '0')}`, i * 3, i, 14 - i))
    const l = layout(days, 320, 160)
    for (const c of l.columns)
      for (const b of c.bars) {
        expect(b.x).toBeGreaterThanOrEqual(l.plot.x)
        expect(b.x + b.width).toBeLessThanOrEqual(320 + 1e-9)
        expect(b.y).toBeGreaterThanOrEqual(0)
        expect(b.y + b.height).toBeLessThanOrEqual(160)
      }
    expect(l.columns.map((c) => c.label)).toEqual(days.map((d) => String(Number(d.day.slice(8)))))
  })

  it('an empty history still draws an axis', () => {
    const l = layout([], 320, 160)
    expect(l.top).toBe(1)
    expect(l.columns).toEqual([])
    expect(l.ticks.length).toBeGreaterThan(0)
  })
})
