// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest'
import { fireEvent, render, screen } from '@testing-library/svelte'
import type { Run } from '../lib/api.ts'

const hour = 3_600_000
const runs: Run[] = [
  { id: 2, startedAt: Date.now() - hour, finishedAt: Date.now() - hour + 900, ok: true, error: null, bytesOut: 2048, bytesIn: 0, detail: 'sent 3 messages in 1 bundle' },
  { id: 1, startedAt: Date.now() - 2 * hour, finishedAt: Date.now() - 2 * hour + 500, ok: false, error: 'the stick is read-only', bytesOut: 0, bytesIn: 0, detail: null },
]

vi.mock('../lib/api.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../lib/api.ts')>()
  return { ...real, api: { transportRuns: vi.fn(async () => runs) } }
})

const { api } = await import('../lib/api.ts')
const { default: RunHistory } = await import('./RunHistory.svelte')

describe('a transport’s run history', () => {
  it('shows what each run carried beside its outcome, and nothing for a run without a summary', async () => {
    const { container } = render(RunHistory, { id: 7 })
    const details = container.querySelector('details')!
    details.open = true
    await fireEvent(details, new Event('toggle'))
    const items = await screen.findAllByRole('listitem')
    expect(api.transportRuns).toHaveBeenCalledWith(7)
    expect(items).toHaveLength(2)
    expect(items[0]!.textContent).toContain('OK')
    expect(items[0]!.textContent).toContain('sent 3 messages in 1 bundle')
    expect(items[1]!.textContent).toContain('failed: the stick is read-only')
    expect(items[1]!.querySelector('.detail')).toBeNull()
  })
})
