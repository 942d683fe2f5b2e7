// @vitest-environment jsdom
import { describe, expect, it } from 'vitest'
import { render, screen } from '@testing-library/svelte'
import RadioPanel from './RadioPanel.svelte'
import type { Radio } from '../lib/api.ts'

// jsdom has no layout and no ResizeObserver, which bind:clientWidth uses; the chart then draws at its minimum width.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver

const HOUR = 3_600_000
const last = Math.floor(Date.UTC(2026, 11, 7, 14, 30) / HOUR) * HOUR
const radio: Radio = {
  transportId: 4,
  peer: 'town',
  port: '/dev/serial/by-id/usb-RNode_LoRa_Transceiver_0123456789abcdef-if00',
  listening: true,
  firmware: 'rnode',
  region: 'EU868',
  frequencyHz: 869_525_000,
  sf: 9,
  bandwidthHz: 125_000,
  codingRate: 5,
  txPowerDbm: 14,
  payloadBytes: 222,
  dutyPercent: 1,
  budget: { usedMs: 9000, limitMs: 36_000 },
  day: { airtimeMs: 12_500, framesSent: 41, framesResent: 6, framesReceived: 33, framesBad: 2, acksMissed: 3 },
  hours: Array.from({ length: 24 }, (_, i) => ({ hour: last - (23 - i) * HOUR, airtimeMs: i === 23 ? 8500 : i === 20 ? 4000 : 0 })),
}

describe('RadioPanel', () => {
  it('shows the port, the channel, the hour\'s budget and the day\'s frames', () => {
    render(RadioPanel, { radio })
    expect(screen.getByRole('heading', { name: /Radio on \/dev\/serial\/by-id\/usb-RNode.*listening/ })).toBeTruthy()
    expect(screen.getByText(/869\.525 MHz · SF9 · 125 kHz · CR 4\/5 · 14 dBm · EU868, duty cycle 1%/)).toBeTruthy()
    const meter = screen.getByLabelText(/Airtime in the last hour: 9\.0 s of 36\.0 s \(25%\)/)
    expect(meter.tagName).toBe('METER')
    expect(meter.getAttribute('value')).toBe('9000')
    expect(meter.getAttribute('max')).toBe('36000')
    const figures = [...document.querySelectorAll('dl.figures div')].map((d) => `${d.querySelector('dt')?.textContent}=${d.querySelector('dd')?.textContent}`)
    expect(figures).toEqual(['On air=12.5 s', 'Sent=41', 'Resent=6', 'Received=33', 'Lost (ACKs missed)=3', 'Unreadable=2'])
  })

  it('charts airtime per hour as an image whose name sums it up, one bar per hour the radio sent in', () => {
    const { container } = render(RadioPanel, { radio })
    const chart = screen.getByRole('img')
    expect(chart.tagName.toLowerCase()).toBe('svg')
    const label = chart.getAttribute('aria-label') ?? ''
    expect(label).toContain('last 24 hours: 12.5 s in all, the busiest hour 8.5 s at')
    const bars = [...container.querySelectorAll('rect.air')]
    expect(bars).toHaveLength(2)
    const heights = bars.map((b) => Number(b.getAttribute('height')))
    // 8.5 s is the busiest: twice and a bit the 4 s hour, and drawn so.
    expect(heights[1]! / heights[0]!).toBeCloseTo(8.5 / 4, 5)
    expect(bars[1]!.querySelector('title')?.textContent).toMatch(/^\d\d:00: 8\.5 s$/)
  })

  it('says when the radio did not transmit, and shows no listening state where the node does not know it', () => {
    const { container } = render(RadioPanel, { radio: { ...radio, listening: null, hours: radio.hours.map((h) => ({ ...h, airtimeMs: 0 })) } })
    expect(screen.getByRole('img').getAttribute('aria-label')).toMatch(/none, the radio did not transmit/)
    expect(container.querySelectorAll('rect.air')).toHaveLength(0)
    expect(screen.queryByText('listening')).toBeNull()
  })
})
