// @vitest-environment jsdom
import { describe, expect, it } from 'vitest'
import { render, screen } from '@testing-library/svelte'
import ImportProgress from './ImportProgress.svelte'

describe('ImportProgress', () => {
  it('shows a running import with its bar and the messages handled so far', () => {
    render(ImportProgress, { list: [{ via: 'usb', phase: 'progress', messages: 1500, fraction: 0.3, at: 1 }] })
    expect(screen.getByText('Importing by usb: 1500 messages so far')).toBeTruthy()
    expect(screen.getByRole('progressbar', { name: 'Import by usb' }).getAttribute('aria-valuenow')).toBe('30')
  })

  it('says when an import is done, and why one failed, without a bar for the failure', () => {
    render(ImportProgress, {
      list: [
        { via: 'folder', phase: 'done', messages: 1, fraction: 1, at: 2 },
        { via: 'syncthing', phase: 'error', messages: 40, fraction: 0.5, error: 'the folder is gone', at: 1 },
      ],
    })
    expect(screen.getByText('Import by folder done: 1 message')).toBeTruthy()
    expect(screen.getByText('Import by syncthing failed after 40 messages: the folder is gone')).toBeTruthy()
    expect(screen.getAllByRole('progressbar').map((b) => b.getAttribute('aria-label'))).toEqual(['Import by folder'])
  })

  it('shows nothing while no import was seen', () => {
    const { container } = render(ImportProgress, { list: [] })
    expect(container.querySelector('section')).toBeNull()
  })
})
