// @vitest-environment jsdom
import { describe, expect, it } from 'vitest'
import { render, screen } from '@testing-library/svelte'
import BarChart from './BarChart.svelte'

// jsdom has no layout and no ResizeObserver, which bind:clientWidth uses; the chart then draws at its minimum width.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver

describe('BarChart', () => {
  it('draws one bar per non-zero count and says the total', () => {
    const { container } = render(BarChart, {
      days: [
        { day: '2026-11-24', received: 3, sent: 1, local: 0 },
        { day: '2026-11-25', received: 0, sent: 0, local: 7 },
      ],
    })
    expect(container.querySelectorAll('rect')).toHaveLength(3)
    expect(container.querySelector('rect.local title')?.textContent).toBe('2026-11-25: 7 local')
    expect(screen.getByRole('img').getAttribute('aria-label')).toContain('11 in all')
  })
})
