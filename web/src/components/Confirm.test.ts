// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest'
import { fireEvent, render, screen } from '@testing-library/svelte'
import { tick } from 'svelte'
import Confirm from './Confirm.svelte'

const props = (onconfirm: () => void | Promise<void>) => ({
  label: 'Remove',
  question: 'Remove alice@camp.test? Its mailbox is deleted.',
  confirmLabel: 'Remove account',
  onconfirm,
})

describe('Confirm', () => {
  it('asks first, with Cancel focused, and does nothing on Cancel', async () => {
    const onconfirm = vi.fn()
    render(Confirm, props(onconfirm))
    expect(screen.queryByRole('alertdialog')).toBeNull()
    await fireEvent.click(screen.getByRole('button', { name: 'Remove' }))
    const dialog = screen.getByRole('alertdialog')
    expect(dialog.textContent).toContain('Remove alice@camp.test? Its mailbox is deleted.')
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Cancel' }))
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }))
    expect(screen.queryByRole('alertdialog')).toBeNull()
    expect(onconfirm).not.toHaveBeenCalled()
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Remove' }))
  })

  it('Escape cancels', async () => {
    const onconfirm = vi.fn()
    render(Confirm, props(onconfirm))
    await fireEvent.click(screen.getByRole('button', { name: 'Remove' }))
    await fireEvent.keyDown(screen.getByRole('button', { name: 'Cancel' }), { key: 'Escape' })
    expect(screen.queryByRole('alertdialog')).toBeNull()
    expect(onconfirm).not.toHaveBeenCalled()
  })

  it('runs the action once on confirm and closes', async () => {
    const onconfirm = vi.fn(async () => {})
    render(Confirm, props(onconfirm))
    await fireEvent.click(screen.getByRole('button', { name: 'Remove' }))
    await fireEvent.click(screen.getByRole('button', { name: 'Remove account' }))
    await tick()
    await tick()
    expect(onconfirm).toHaveBeenCalledOnce()
    expect(screen.queryByRole('alertdialog')).toBeNull()
  })

  it('stays open and shows the error when the action fails', async () => {
    const onconfirm = vi.fn(async () => {
      throw new Error('alice@camp.test is not an account here')
    })
    render(Confirm, props(onconfirm))
    await fireEvent.click(screen.getByRole('button', { name: 'Remove' }))
    await fireEvent.click(screen.getByRole('button', { name: 'Remove account' }))
    await tick()
    await tick()
    expect(screen.getByRole('alertdialog')).toBeTruthy()
    expect(screen.getByRole('alert').textContent).toBe('alice@camp.test is not an account here')
  })
})
