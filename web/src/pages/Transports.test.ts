// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest'
import { fireEvent, render, screen, within } from '@testing-library/svelte'
import { tick } from 'svelte'
import type { OutpostEvent, Radio, Transport } from '../lib/api.ts'

// jsdom has no layout and no ResizeObserver, which the radio chart's bind:clientWidth uses.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver

const transport: Transport = {
  id: 3,
  peer: 'town',
  kind: 'folder',
  schedule: '*/5 * * * *',
  options: { path: '/media/stick' },
  lastRun: null,
  nextRuns: [Date.now() + 60_000],
  running: false,
}

vi.mock('../lib/api.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../lib/api.ts')>()
  const fake = {
    transports: vi.fn(async () => [transport]),
    peers: vi.fn(async () => [{ name: 'town', domains: ['town.test'], reach: [], fingerprint: 'ab', addedAt: 0 }]),
    transportKinds: vi.fn(async () => [{ kind: 'folder', summary: 'a folder', options: [{ name: 'path', required: true, secret: false, help: 'the folder' }] }]),
    runTransport: vi.fn(async () => ({ started: true })),
    schedulePreview: vi.fn(async () => ({ valid: true, text: 'every 5 minutes', next: [] })),
    radios: vi.fn(async () => [] as Radio[]),
  }
  return { ...real, api: fake }
})

const { api } = await import('../lib/api.ts')
const { runs } = await import('../lib/runs.svelte.ts')
const { default: Transports } = await import('./Transports.svelte')

const ev = (data: Partial<OutpostEvent<'transport.run'>['data']>, at: number): OutpostEvent<'transport.run'> => ({
  id: 0,
  at,
  kind: 'transport.run',
  data: { transportId: 3, peer: 'town', kind: 'folder', phase: 'progress', ...data },
})

describe('Transports page', () => {
  it('"Run now" starts the run and the bar follows its transport.run events to the end', async () => {
    render(Transports)
    const item = await screen.findByRole('region', { name: 'Transports to town' })
    await fireEvent.click(within(item).getByRole('button', { name: 'Run now' }))
    expect(api.runTransport).toHaveBeenCalledWith(3)
    const bar = within(item).getByRole('progressbar')
    expect(bar.hasAttribute('aria-valuenow')).toBe(false)
    expect((within(item).getByRole('button', { name: 'Run now' }) as HTMLButtonElement).disabled).toBe(true)

    runs.apply(ev({ phase: 'progress', done: 1, total: 4 }, Date.now() + 1))
    await tick()
    expect(within(item).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('25')
    expect(within(item).getByText(/1 of 4/)).toBeTruthy()

    runs.apply(ev({ phase: 'done' }, Date.now() + 2))
    await tick()
    expect(within(item).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100')
    expect(within(item).getByText('Done')).toBeTruthy()
    expect((within(item).getByRole('button', { name: 'Run now' }) as HTMLButtonElement).disabled).toBe(false)
  })

  it('shows the reason when a run fails', async () => {
    render(Transports)
    const item = await screen.findByRole('region', { name: 'Transports to town' })
    runs.apply(ev({ phase: 'error', error: '/media/stick is not there (stick not plugged in, or not mounted?)' }, Date.now() + 10))
    await tick()
    expect(within(item).getByText(/Failed: \/media\/stick is not there/)).toBeTruthy()
    expect(within(item).queryByRole('progressbar')).toBeNull()
  })

  it('shows a LoRa transport\'s radio beside it, and no radio for other carriers', async () => {
    const lora: Transport = { ...transport, id: 5, kind: 'lora', options: { port: '/dev/ttyACM0' } }
    vi.mocked(api.transports).mockResolvedValueOnce([transport, lora])
    vi.mocked(api.radios).mockResolvedValueOnce([{
      transportId: 5, peer: 'town', port: '/dev/ttyACM0', listening: true, firmware: 'rnode', region: 'EU868', frequencyHz: 869_525_000, sf: 9, bandwidthHz: 125_000,
      codingRate: 5, txPowerDbm: 14, payloadBytes: 222, dutyPercent: 1, budget: { usedMs: 1800, limitMs: 36_000 },
      day: { airtimeMs: 1800, framesSent: 9, framesResent: 0, framesReceived: 3, framesBad: 0, acksMissed: 0 },
      hours: Array.from({ length: 24 }, (_, i) => ({ hour: i * 3_600_000, airtimeMs: i === 23 ? 1800 : 0 })),
    }])
    render(Transports)
    const heading = await screen.findByRole('heading', { name: /Radio on \/dev\/ttyACM0/ })
    expect(heading.closest('li')?.getAttribute('data-transport')).toBe('5')
    expect(screen.getAllByRole('heading', { name: /Radio on/ })).toHaveLength(1)
    expect(screen.getByRole('img', { name: /Airtime per hour over the last 24 hours: 1\.8 s in all/ })).toBeTruthy()
  })
})
