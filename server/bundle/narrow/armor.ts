// OpenPGP ASCII armor (RFC 4880 §6.2, RFC 9580 §6.2) taken apart into its
// binary and the few facts that rebuild the same text: the line length, the
// line ending, and whether a CRC24 line follows. Only the body is taken
// apart: the BEGIN line, any "Version:"/"Comment:" headers, the blank line
// and the END line stay text, as the sender wrote them.
//
// Nothing here trusts its parse. A body is offered in binary only when
// armorBody() rebuilds it byte for byte from what was found; anything else
// (a truncated armor, lines of uneven length, non-canonical base64, a CRC
// that does not match, mixed line endings) stays text, unchanged.

/** How an armored body was laid out: enough to write the same text again. */
export interface ArmorShape {
  /** Base64 characters per line (the last line may be shorter). */
  lineLength: number
  crlf: boolean
  /** A "=XXXX" CRC24 line follows the base64 lines. */
  crc: boolean
}

/** An armored body found in a text, and the binary it holds. */
export interface ArmorBody {
  /** Where the body's first base64 line starts, and where the line after its last line (or after its CRC line) starts. */
  start: number
  end: number
  shape: ArmorShape
  binary: Buffer
}

const CRC24_INIT = 0xb704ce
const CRC24_POLY = 0x1864cfb

/** The CRC-24 of RFC 4880 §6.1. */
export function crc24(data: Uint8Array): number {
  let crc = CRC24_INIT
  for (const byte of data) {
    crc ^= byte << 16
    for (let i = 0; i < 8; i++) {
      crc <<= 1
      if (crc & 0x1000000) crc ^= CRC24_POLY
    }
  }
  return crc & 0xffffff
}

function crcLine(binary: Uint8Array): string {
  const c = crc24(binary)
  return '=' + Buffer.from([c >> 16, (c >> 8) & 0xff, c & 0xff]).toString('base64')
}

/** The armored body's text for this binary and shape: base64 lines, each ended, and the CRC line if the shape has one. */
export function armorBody(binary: Uint8Array, shape: ArmorShape): string {
  const eol = shape.crlf ? '\r\n' : '\n'
  const b64 = Buffer.from(binary).toString('base64')
  let out = ''
  for (let at = 0; at < b64.length; at += shape.lineLength) out += b64.slice(at, at + shape.lineLength) + eol
  if (shape.crc) out += crcLine(binary) + eol
  return out
}

const BEGIN = /-----BEGIN PGP [A-Z0-9 ,/]+-----(\r?\n)/g
const BASE64_LINE = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * The next armored body at or after `from` in `text` (a latin1 string: one
 * character per byte) that rebuilds exactly, or undefined. Armor that does
 * not rebuild is skipped and stays text.
 */
export function nextArmorBody(text: string, from: number): ArmorBody | undefined {
  BEGIN.lastIndex = from
  for (let m = BEGIN.exec(text); m; m = BEGIN.exec(text)) {
    const found = bodyAfter(text, m.index + m[0].length, m[1] === '\r\n')
    if (found) return found
    BEGIN.lastIndex = m.index + m[0].length
  }
  return undefined
}

/** The body of the armor whose BEGIN line ends at `at`, if it rebuilds exactly. */
function bodyAfter(text: string, at: number, crlf: boolean): ArmorBody | undefined {
  const eol = crlf ? '\r\n' : '\n'
  const lineAt = (i: number): { line: string; next: number } | undefined => {
    const e = text.indexOf(eol, i)
    if (e === -1) return undefined
    const line = text.slice(i, e)
    // A bare CR inside an LF armor, or a stray CR before the LF: not this shape.
    if (!crlf && line.endsWith('\r')) return undefined
    return { line, next: e + eol.length }
  }
  // Headers ("Version: …", "Comment: …") up to the blank line stay text.
  let i = at
  for (let h = lineAt(i); ; h = lineAt(i)) {
    if (!h) return undefined
    i = h.next
    if (h.line === '') break
    if (!/^[\x21-\x39\x3b-\x7e]+: /.test(h.line)) return undefined
  }
  const start = i
  let b64 = ''
  let lineLength = 0
  let crc = false
  for (let l = lineAt(i); ; l = lineAt(i)) {
    if (!l) return undefined // no END line: truncated, sent as it is
    if (l.line.startsWith('-----END PGP ')) break
    if (l.line.startsWith('=') && l.line.length === 5) {
      const after = lineAt(l.next)
      if (!after || !after.line.startsWith('-----END PGP ')) return undefined
      crc = true
      i = l.next
      break
    }
    if (!BASE64_LINE.test(l.line)) return undefined
    if (lineLength === 0) lineLength = l.line.length
    b64 += l.line
    i = l.next
  }
  if (lineLength === 0 || lineLength > 255) return undefined
  const binary = Buffer.from(b64, 'base64')
  const shape: ArmorShape = { lineLength, crlf, crc }
  // The proof: the binary and the shape give back these very bytes.
  if (armorBody(binary, shape) !== text.slice(start, i)) return undefined
  return { start, end: i, shape, binary }
}
