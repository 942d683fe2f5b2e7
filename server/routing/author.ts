// The author of a message, from its From: header, so that a sender cannot
// put someone else's address there (the envelope is checked separately).
export type Author = { ok: true; address: string } | { ok: false; reason: string }

/** Drops quoted strings and comments, which may hold "<", "@" or ",". */
export function stripPhrases(value: string): string {
  let out = ''
  let depth = 0
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!
    if (c === '\\' && (quoted || depth > 0)) {
      i++
      continue
    }
    if (quoted) {
      if (c === '"') quoted = false
      continue
    }
    if (c === '"' && depth === 0) quoted = true
    else if (c === '(') depth++
    else if (c === ')' && depth > 0) depth--
    else if (depth === 0) out += c
  }
  return out
}

/** The single address in the From: header(s) given, or why there is none. */
export function authorOf(fromHeaders: readonly string[]): Author {
  if (fromHeaders.length === 0) return { ok: false, reason: 'the message has no From: header' }
  if (fromHeaders.length > 1) return { ok: false, reason: 'the message has more than one From: header' }
  const value = stripPhrases(fromHeaders[0]!.replace(/\r?\n[ \t]*/g, ' ')).trim()
  if (value.includes(',')) return { ok: false, reason: 'the From: header names more than one author' }
  const angle = /<([^<>]*)>/.exec(value)
  const address = (angle ? angle[1]! : value).trim().toLowerCase()
  if (!/^[^\s@]+@[^\s@]+$/.test(address)) return { ok: false, reason: `the From: header has no usable address` }
  return { ok: true, address }
}
