// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest'
import { fireEvent, render, screen, within } from '@testing-library/svelte'
import type { Queue, QueuedMessage, QueueParams } from '../lib/api.ts'

const T = Date.now() - 3_600_000
const msg = (i: number): QueuedMessage => ({
  messageId: i.toString(16).padStart(64, '0'),
  peer: 'town',
  size: 2300,
  queuedAt: T + i,
  exports: i < 2 ? 2 : 0,
  bundleId: i < 2 ? 'b'.repeat(32) : null,
  exportedAt: i < 2 ? T + 60_000 : null,
  via: i < 2 ? 'http' : null,
  held: i === 3 ? { kind: 'only-narrow', reason: 'held: only narrow carriers reach town; add a wider one, or raise the limit (lora #1 takes up to 8 KiB; this message is 180 KiB)' } : null,
})
const all = Array.from({ length: 120 }, (_, i) => msg(i))

vi.mock('../lib/api.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../lib/api.ts')>()
  const fake = {
    // The server's paging: `after` is the index of the last message shown.
    queue: vi.fn(async (p: QueueParams = {}): Promise<Queue> => {
      const from = p.after ? Number(p.after) + 1 : 0
      const items = p.peer === 'town' ? all.slice(from, from + (p.limit ?? 100)) : all.slice(0, p.limit ?? 100)
      const last = from + items.length - 1
      return {
        peers: [{ peer: 'town', messages: all.length, bytes: all.length * 2300, oldestAt: T, held: 1, heldOnlyNarrow: 1, holdNote: 'held: only narrow carriers reach town; add a wider one, or raise the limit (lora #1 takes up to 8 KiB): 1 message waits for that' }],
        totals: { messages: all.length, bytes: all.length * 2300 },
        items,
        next: p.peer === 'town' && last < all.length - 1 ? String(last) : null,
      }
    }),
    retryPeer: vi.fn(),
    discard: vi.fn(),
  }
  return { ...real, api: fake }
})

const { api } = await import('../lib/api.ts')
const { default: QueuePage } = await import('./Queue.svelte')

describe('Queue page', () => {
  it('shows counts per peer and one page of messages, and "Load more" adds the next page until all are shown', async () => {
    render(QueuePage)
    const town = await screen.findByRole('region', { name: 'Waiting for town' })
    expect(within(town).getByText(/^120 ·/)).toBeTruthy()
    await vi.waitFor(() => expect(within(town).getAllByRole('listitem')).toHaveLength(50), { timeout: 20_000 })
    expect(within(town).getAllByRole('listitem')[0]!.textContent).toMatch(/in bundle, sent .* by http \(2×\), not yet confirmed/)
    expect(within(town).getAllByRole('listitem')[2]!.textContent).toMatch(/not sent yet/)
    // A message no carrier of the peer takes says so, and the peer's heading raises it.
    expect(within(town).getAllByRole('listitem')[3]!.textContent).toMatch(/held: only narrow carriers reach town; add a wider one, or raise the limit/)
    expect(within(town).getAllByRole('listitem')[2]!.textContent).not.toMatch(/held/)
    expect(within(town).getByRole('alert').textContent).toMatch(/only narrow carriers reach town/)
    expect(within(town).getByText('50 of 120 shown')).toBeTruthy()

    await fireEvent.click(await within(town).findByRole('button', { name: 'Load more' }))
    await vi.waitFor(() => expect(within(town).getAllByRole('listitem')).toHaveLength(100), { timeout: 20_000 })
    await fireEvent.click(await within(town).findByRole('button', { name: 'Load more' }))
    await vi.waitFor(() => expect(within(town).getAllByRole('listitem')).toHaveLength(120), { timeout: 20_000 })
    expect(within(town).queryByRole('button', { name: 'Load more' })).toBeNull()
    const ids = within(town).getAllByRole('listitem').map((li) => li.querySelector('code')!.title)
    expect(new Set(ids).size).toBe(120)
    // Pages of the peer, never the whole outbox at once.
    for (const [p] of vi.mocked(api.queue).mock.calls) expect(p?.limit).toBeLessThanOrEqual(50)
  })
})
