// A real browser for the web admin's end-to-end tests: Debian's Chromium
// (`apt-get install chromium`), headless, driven by playwright-core. The
// node's certificate is self-signed, so HTTPS errors are accepted.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import jsQRModule from 'jsqr'
import QRCode from 'qrcode'

// jsqr is CommonJS whose module.exports is the function itself; its types say `export default`.
const jsQR = jsQRModule as unknown as (typeof jsQRModule)['default']

export const CHROMIUM = process.env.OUTPOST_CHROMIUM ?? '/usr/bin/chromium'
/** Screenshots of test runs (gitignored; CI keeps them as artifacts). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

export const PHONE = { width: 360, height: 740 }
export const DESKTOP = { width: 1280, height: 800 }

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install the Debian package "chromium" (or set OUTPOST_CHROMIUM)`)
  // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
}

/**
 * Chromium with a fake camera that films `video` (see qrVideo) and a
 * permission prompt that always says yes: the page's "scan with camera".
 */
export async function launchChromiumWithCamera(video: string): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install the Debian package "chromium" (or set OUTPOST_CHROMIUM)`)
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
  })
}

/**
 * Writes a short Y4M video (what Chromium's fake camera plays) of `text` as
 * a QR code, black on white, as a phone camera would see it held up to a screen.
 */
export function qrVideo(text: string, file: string, width = 640, height = 480, frames = 10): void {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' })
  const size = qr.modules.size
  const scale = Math.floor((Math.min(width, height) - 40) / (size + 8))
  const left = Math.floor((width - size * scale) / 2)
  const top = Math.floor((height - size * scale) / 2)
  const y = Buffer.alloc(width * height, 235)
  for (let r = 0; r < size; r++)
    for (let c = 0; c < size; c++) {
      if (!qr.modules.get(r, c)) continue
      for (let dy = 0; dy < scale; dy++) y.fill(16, (top + r * scale + dy) * width + left + c * scale, (top + r * scale + dy) * width + left + (c + 1) * scale)
    }
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128)
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, chroma])
  writeFileSync(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`), ...Array<Buffer>(frames).fill(frame)]))
}

export async function newContext(browser: Browser, baseURL: string, viewport = PHONE): Promise<BrowserContext> {
  return browser.newContext({ baseURL, ignoreHTTPSErrors: true, viewport, deviceScaleFactor: 1 })
}

/**
 * Collects every Content-Security-Policy violation Chromium reports on the
 * console of any page of `ctx`: a page the policy broke says so there.
 */
export function watchCsp(ctx: BrowserContext): string[] {
  const seen: string[] = []
  ctx.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(`${m.page()?.url() ?? '?'}: ${m.text()}`)
  })
  return seen
}

/** Saves a screenshot of the whole page as test-artifacts/NAME-WIDTHxHEIGHT.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const v = page.viewportSize()
  const file = join(ARTIFACTS, `${name}-${v?.width ?? 0}x${v?.height ?? 0}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

/** How far the page is wider than its viewport (0 = no sideways scrolling). */
export async function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
}

/**
 * Form fields without a label and buttons or links without a name: what a
 * screen reader would announce as just "edit text" or "button".
 */
export async function unnamedControls(page: Page): Promise<string[]> {
  // No named functions inside: tsx would wrap them in a helper the page does not have.
  return page.evaluate(() => {
    const out: string[] = []
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const f = el as HTMLInputElement
      if (f.type === 'hidden') continue
      if (!f.labels?.length && !f.getAttribute('aria-label') && !f.getAttribute('aria-labelledby')) out.push(el.outerHTML.slice(0, 100))
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!(el.textContent ?? '').trim() && !el.getAttribute('aria-label') && !el.getAttribute('title')) out.push(el.outerHTML.slice(0, 100))
    }
    return out
  })
}

/**
 * Reads the QR code drawn by the SVG inside `selector` the way a phone's
 * camera would see it: the page renders the SVG onto a canvas, and jsQR
 * decodes the pixels here.
 */
export async function readQr(page: Page, selector: string): Promise<string> {
  const size = 480
  // The page may still be fetching it.
  await page.locator(`${selector} svg`).first().waitFor()
  const b64 = await page.evaluate(
    async ({ selector, size }) => {
      const svg = document.querySelector(`${selector} svg`)
      if (!svg) throw new Error(`no SVG QR code in ${selector}`)
      // A data: URL, which the app's Content-Security-Policy allows for images (blob: it does not).
      const url = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`
      const img = new Image()
      await new Promise<void>((resolve, reject) => {
        img.onload = () => resolve()
        img.onerror = () => reject(new Error('the QR SVG does not load as an image'))
        img.src = url
      })
      const canvas = document.createElement('canvas')
      canvas.width = canvas.height = size
      const ctx = canvas.getContext('2d')!
      ctx.fillStyle = '#fff'
      ctx.fillRect(0, 0, size, size)
      ctx.imageSmoothingEnabled = false
      ctx.drawImage(img, 20, 20, size - 40, size - 40)
      const bytes = ctx.getImageData(0, 0, size, size).data
      let s = ''
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
      return btoa(s)
    },
    { selector, size },
  )
  const pixels = new Uint8ClampedArray(Buffer.from(b64, 'base64'))
  const code = jsQR(pixels, size, size)
  if (!code) throw new Error(`the QR code in ${selector} could not be decoded`)
  return code.data
}
