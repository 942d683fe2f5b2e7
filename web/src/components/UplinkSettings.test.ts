// @vitest-environment jsdom
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { fireEvent, render, screen, within } from '@testing-library/svelte'
import type { Uplink } from '../lib/api.ts'

const stored: Uplink = {
  gateway: false,
  kind: 'gateway',
  peer: 'town',
  probeSeconds: 30,
  online: false,
  lastOnline: Date.now() - 5 * 60_000,
  smarthost: { host: 'smtp.relay.test', port: 587, user: 'gw@relay.test', passwordSet: true },
  account: null,
  dkim: [{ domain: 'camp.test', selector: 's1', name: 's1._domainkey.camp.test', value: 'v=DKIM1; k=rsa; p=MIIB', record: 's1._domainkey.camp.test. IN TXT ( "v=DKIM1; k=rsa; p=MIIB" )' }],
}

vi.mock('../lib/api.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../lib/api.ts')>()
  const fake = {
    uplink: vi.fn(async () => stored),
    peers: vi.fn(async () => [
      { name: 'town', domains: ['town.test'], reach: [], fingerprint: 'ab', addedAt: 0 },
      { name: 'vps', domains: ['vps.test'], reach: [], fingerprint: 'cd', addedAt: 0 },
    ]),
    setUplink: vi.fn(async (p: Partial<Uplink>) => ({ ...stored, ...p })),
    setSmarthost: vi.fn(async (s: { host: string; port: number; user: string }) => ({ ...stored, smarthost: { host: s.host, port: s.port, user: s.user, passwordSet: true } })),
    clearSmarthost: vi.fn(async () => ({ ...stored, smarthost: null })),
    setUplinkAccount: vi.fn(),
    clearUplinkAccount: vi.fn(),
    dkim: vi.fn(),
  }
  return { ...real, api: fake }
})

const { api } = await import('../lib/api.ts')
const { default: UplinkSettings } = await import('./UplinkSettings.svelte')

describe('Internet uplink settings', () => {
  beforeEach(() => vi.clearAllMocks())

  it('shows offline with the last time online, and saves another gateway peer', async () => {
    render(UplinkSettings)
    expect((await screen.findByTestId('uplink-state')).textContent).toBe('Offline')
    expect(screen.getByTestId('uplink-last').textContent).toBe('5 min ago')
    const chooser = (await screen.findByLabelText('Gateway peer')) as HTMLSelectElement
    await vi.waitFor(() => expect(chooser.options.length).toBe(3), { timeout: 20_000 })
    expect(chooser.value).toBe('town')
    await fireEvent.change(chooser, { target: { value: 'vps' } })
    await fireEvent.input(screen.getByLabelText('Check every (seconds)'), { target: { value: '10' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save uplink' }))
    expect(api.setUplink).toHaveBeenCalledWith({ kind: 'gateway', peer: 'vps', probeSeconds: 10 })
    expect(await screen.findByText(/Saved\. The box checks the new uplink/)).toBeTruthy()
  })

  it('the smarthost password is write-only: "set" when stored, sent once, then the field is empty again', async () => {
    render(UplinkSettings)
    const pass = (await screen.findByLabelText('Password', { selector: '#sh-pass' })) as HTMLInputElement
    expect(pass.type).toBe('password')
    expect(pass.value).toBe('')
    expect(screen.getByText(/^Set \(never shown\)\./)).toBeTruthy()
    expect((screen.getByLabelText('Server') as HTMLInputElement).value).toBe('smtp.relay.test')
    await fireEvent.input(pass, { target: { value: 'relay-secret' } })
    await fireEvent.click(screen.getByRole('button', { name: 'Save smarthost' }))
    expect(api.setSmarthost).toHaveBeenCalledWith({ host: 'smtp.relay.test', port: 587, user: 'gw@relay.test', password: 'relay-secret' })
    await screen.findByText(/Smarthost saved/)
    // The password does not stay in the page.
    expect(pass.value).toBe('')
    expect(document.body.innerHTML).not.toContain('relay-secret')
    await fireEvent.click(screen.getByRole('button', { name: 'Remove smarthost' }))
    expect(api.clearSmarthost).toHaveBeenCalled()
    expect(await screen.findByText(/Smarthost removed/)).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Remove smarthost' })).toBeNull()
  })

  it('lists each DKIM record with copy buttons for its name and value', async () => {
    const writeText = vi.fn(async () => undefined)
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    render(UplinkSettings)
    const rec = await screen.findByRole('group', { name: 'DKIM record for camp.test' })
    expect(within(rec).getByText('s1._domainkey.camp.test')).toBeTruthy()
    await fireEvent.click(within(rec).getByRole('button', { name: 'Copy value' }))
    expect(writeText).toHaveBeenCalledWith('v=DKIM1; k=rsa; p=MIIB')
    await fireEvent.click(within(rec).getByRole('button', { name: 'Copy zone-file line' }))
    expect(writeText).toHaveBeenLastCalledWith(stored.dkim[0]!.record)
  })
})
