// Reads a QR code from the phone's camera: the browser's own BarcodeDetector
// where there is one (Chrome on Android), else jsQR on canvas frames, loaded
// only when someone scans so the admin stays small for everyone else.

interface Detector {
  detect(source: CanvasImageSource): Promise<Array<{ rawValue: string }>>
}
type DetectorClass = new (opts: { formats: string[] }) => Detector

/** How often a frame is looked at: enough to feel instant, little enough for an old phone. */
const FRAME_MS = 200

export async function scanQr(video: HTMLVideoElement, signal: AbortSignal): Promise<string> {
  const Native = (globalThis as unknown as { BarcodeDetector?: DetectorClass }).BarcodeDetector
  let detect: () => Promise<string | undefined>
  if (Native) {
    const d = new Native({ formats: ['qr_code'] })
    detect = async () => (await d.detect(video))[0]?.rawValue
  } else {
    const { default: jsQR } = await import('jsqr')
    const canvas = document.createElement('canvas')
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!
    detect = async () => {
      const w = video.videoWidth
      const h = video.videoHeight
      if (!w || !h) return undefined
      canvas.width = w
      canvas.height = h
      ctx.drawImage(video, 0, 0, w, h)
      return jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'dontInvert' })?.data
    }
  }
  while (!signal.aborted) {
    const text = await detect().catch(() => undefined)
    if (text) return text
    await new Promise((r) => setTimeout(r, FRAME_MS))
  }
  throw new DOMException('scan stopped', 'AbortError')
}
