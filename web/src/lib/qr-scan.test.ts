import { afterEach, describe, expect, it, vi } from 'vitest'
import { scanQr } from './qr-scan.ts'

afterEach(() => {
  delete (globalThis as { BarcodeDetector?: unknown }).BarcodeDetector
})

describe('scanQr with the browser\'s BarcodeDetector', () => {
  it('keeps looking until a frame holds a QR code, and asks only for QR codes', async () => {
    const frames = [[], [], [{ rawValue: 'outpost-card:abc' }]]
    const formats: string[][] = []
    ;(globalThis as { BarcodeDetector?: unknown }).BarcodeDetector = class {
      constructor(opts: { formats: string[] }) {
        formats.push(opts.formats)
      }
      detect = vi.fn(async () => frames.shift() ?? [])
    }
    const text = await scanQr({} as HTMLVideoElement, new AbortController().signal)
    expect(text).toBe('outpost-card:abc')
    expect(formats).toEqual([['qr_code']])
    expect(frames).toHaveLength(0)
  })

  it('stops when the person stops scanning', async () => {
    ;(globalThis as { BarcodeDetector?: unknown }).BarcodeDetector = class {
      detect = async () => []
    }
    const ac = new AbortController()
    const scan = scanQr({} as HTMLVideoElement, ac.signal)
    setTimeout(() => ac.abort(), 50)
    await expect(scan).rejects.toMatchObject({ name: 'AbortError' })
  })
})
