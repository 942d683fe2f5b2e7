// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest'
import { fireEvent, render, screen, within } from '@testing-library/svelte'
import type { Account, Accounts, AccountsParams } from '../lib/api.ts'

const all: Account[] = Array.from({ length: 70 }, (_, i) => ({ address: `user${String(i).padStart(3, '0')}@camp.test`, createdAt: Date.now() - 86_400_000, quotaMb: null, usedBytes: 2048 }))

vi.mock('../lib/api.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../lib/api.ts')>()
  const fake = {
    // The server's paging and search: `after` is the last address shown.
    accounts: vi.fn(async (p: AccountsParams = {}): Promise<Accounts> => {
      const matching = all.filter((a) => a.address.includes((p.search ?? '').toLowerCase()))
      const from = p.after ? matching.findIndex((a) => a.address === p.after) + 1 : 0
      const items = matching.slice(from, from + (p.limit ?? 50))
      return { items, total: matching.length, next: from + items.length < matching.length ? items.at(-1)!.address : null }
    }),
    invites: vi.fn(async () => []),
    removeAccount: vi.fn(async () => undefined),
  }
  return { ...real, api: fake }
})

/** Waits for outcomes as long as a busy machine needs; a fast one goes on at once. */
const WAIT = { timeout: 20_000 }

const { api } = await import('../lib/api.ts')
const { default: AccountsPage } = await import('./Accounts.svelte')

describe('Accounts page', () => {
  it('shows the first page of accounts, "Load more" adds the next until all are shown, and a search asks the server for the matches', async () => {
    render(AccountsPage)
    const list = await screen.findByRole('list', { name: 'Accounts' }, WAIT)
    await vi.waitFor(() => expect(within(list).getAllByRole('listitem')).toHaveLength(50), WAIT)
    expect(screen.getByText('50 of 70 shown')).toBeTruthy()

    await fireEvent.click(screen.getByRole('button', { name: 'Load more' }))
    await vi.waitFor(() => expect(within(list).getAllByRole('listitem')).toHaveLength(70), WAIT)
    expect(screen.getByText('70 of 70 shown')).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull()
    expect(new Set(within(list).getAllByRole('listitem').map((li) => li.querySelector('strong')!.textContent)).size).toBe(70)

    // Looking for one person: the server filters, the list shows only the matches.
    await fireEvent.input(screen.getByLabelText('Find an account'), { target: { value: 'user06' } })
    await vi.waitFor(() => expect(within(list).getAllByRole('listitem')).toHaveLength(10), WAIT)
    expect(within(list).getAllByRole('listitem')[0]!.textContent).toContain('user060@camp.test')
    expect(vi.mocked(api.accounts).mock.calls.at(-1)![0]).toMatchObject({ search: 'user06' })
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull()

    await fireEvent.input(screen.getByLabelText('Find an account'), { target: { value: 'nobody' } })
    await screen.findByText('No account matches "nobody".', {}, WAIT)
    // Pages, never the whole list at once.
    for (const [p] of vi.mocked(api.accounts).mock.calls) expect(p?.limit).toBeLessThanOrEqual(50)
    // Rendering a page of accounts with their buttons in jsdom is slow on a busy machine; the test waits for outcomes, not for a time.
  }, 60_000)
})
