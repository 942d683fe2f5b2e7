// The key in an Autocrypt header (`keydata=` then the base64 of the
// OpenPGP public key, folded over continuation lines), taken apart into its
// binary and the fold that writes the same text again. A folding this
// module cannot rebuild byte for byte stays text.
import { createHash } from 'node:crypto'

export interface KeyFold {
  crlf: boolean
  /** The continuation lines start with a tab rather than a space. */
  tab: boolean
  /** Base64 characters on the `keydata=` line itself (0: the key starts on the next line). */
  first: number
  /** Base64 characters on each continuation line (the last may be shorter). */
  lineLength: number
}

export interface FoldedKey {
  /** Where the base64 starts (just after "keydata=") and where the header's last line ends (before its line ending). */
  start: number
  end: number
  fold: KeyFold
  binary: Buffer
}

/** A key's short reference: the first 12 bytes of its SHA-256, 24 hex digits; a collision would need a second preimage of 96 bits. */
export const KEY_REF_BYTES = 12

export function keyRef(key: Uint8Array): string {
  return createHash('sha256').update(key).digest().subarray(0, KEY_REF_BYTES).toString('hex')
}

/** The folded base64 text of a key, from just after "keydata=" to the end of its last line (no line ending). */
export function foldKey(binary: Uint8Array, f: KeyFold): string {
  const b64 = Buffer.from(binary).toString('base64')
  const eol = f.crlf ? '\r\n' : '\n'
  const lead = f.tab ? '\t' : ' '
  let out = b64.slice(0, f.first)
  for (let at = f.first; at < b64.length; at += f.lineLength) out += eol + lead + b64.slice(at, at + f.lineLength)
  return out
}

const KEYDATA = /^Autocrypt(?:-Gossip)?:[^\n]*?keydata=/gim

/** The next Autocrypt key at or after `from` in `text` (latin1) that folds back exactly, or undefined. */
export function nextFoldedKey(text: string, from: number): FoldedKey | undefined {
  KEYDATA.lastIndex = from
  for (let m = KEYDATA.exec(text); m; m = KEYDATA.exec(text)) {
    const found = keyAt(text, m.index + m[0].length)
    if (found) return found
    KEYDATA.lastIndex = m.index + m[0].length
  }
  return undefined
}

function keyAt(text: string, start: number): FoldedKey | undefined {
  const nl = text.indexOf('\n', start)
  if (nl === -1) return undefined
  const crlf = text[nl - 1] === '\r'
  const eol = crlf ? '\r\n' : '\n'
  const firstText = text.slice(start, nl - (crlf ? 1 : 0))
  if (!/^[A-Za-z0-9+/=]*$/.test(firstText)) return undefined
  let b64 = firstText
  let end = start + firstText.length
  let lineLength = 0
  let tab = false
  for (;;) {
    const lead = text[end + eol.length]
    if (!text.startsWith(eol, end) || (lead !== ' ' && lead !== '\t')) break
    const lineStart = end + eol.length + 1
    const e = text.indexOf(eol, lineStart)
    const line = text.slice(lineStart, e === -1 ? text.length : e)
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line)) return undefined
    if (lineLength === 0) {
      lineLength = line.length
      tab = lead === '\t'
    }
    b64 += line
    end = lineStart + line.length
  }
  if (b64.length < 16 || lineLength > 255 || firstText.length > 255) return undefined
  const binary = Buffer.from(b64, 'base64')
  const fold: KeyFold = { crlf, tab, first: firstText.length, lineLength: lineLength || 76 }
  if (foldKey(binary, fold) !== text.slice(start, end)) return undefined
  return { start, end, fold, binary }
}
