// @vitest-environment jsdom
import { describe, expect, it } from 'vitest'
import { render, screen } from '@testing-library/svelte'
import ProgressBar from './ProgressBar.svelte'

describe('ProgressBar', () => {
  it('reports its percentage to assistive technology and fills to it', () => {
    render(ProgressBar, { fraction: 0.42, label: 'Run of transport 1' })
    const bar = screen.getByRole('progressbar', { name: 'Run of transport 1' })
    expect(bar.getAttribute('aria-valuenow')).toBe('42')
    expect((bar.firstElementChild as HTMLElement).style.width).toBe('42%')
    expect(screen.getByText('42%')).toBeTruthy()
  })

  it('has no value while the total is unknown', () => {
    render(ProgressBar, { fraction: null, label: 'Run' })
    const bar = screen.getByRole('progressbar')
    expect(bar.hasAttribute('aria-valuenow')).toBe(false)
    expect(bar.classList.contains('indeterminate')).toBe(true)
  })
})
