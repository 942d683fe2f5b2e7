// Whether every line of a message's header parses as a field (RFC 5322
// §2.2: a name of printable characters other than ":", then ":") or as the
// continuation of the field before it. Haraka keeps a line that is neither
// (`From : x`, a folded line with no field before it) in the stored message
// but leaves it out of the header it parses, so our From: check would look
// at one author while a mail client, parsing leniently, shows another.

export interface BadHeaderLine {
  /** 1-based line number in the header. */
  line: number
  /** The line as sent, cut to a length that fits an SMTP reply. */
  text: string
}

const FIELD = /^[\x21-\x39\x3b-\x7e]+:/
const CONTINUATION = /^[ \t]/

/** The first header line that is neither a field nor a continuation, or null when all parse. */
export function firstBadHeaderLine(lines: readonly string[]): BadHeaderLine | null {
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r?\n$/, '')
    if (i > 0 && CONTINUATION.test(line)) continue
    if (FIELD.test(line)) continue
    // Printable ASCII only, so the reply stays one safe line.
    const shown = line.replace(/[^\x20-\x7e]/g, '?')
    return { line: i + 1, text: shown.length > 60 ? `${shown.slice(0, 60)}...` : shown }
  }
  return null
}
