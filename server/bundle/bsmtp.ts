// The mail payload of a bundle: batch SMTP (RFC 2442), the same bytes an MTA
// reads with `exim -bS` or `sendmail -bS`. Choosing a format that existing
// MTAs already read means a decrypted payload can be fed to exim or Postfix
// by hand when no Outpost node is at hand, and a reader of the spec already
// knows it.
//
// What we write is a strict subset: no HELO/EHLO, no ESMTP parameters, one
// `MAIL FROM:<…>`, one or more `RCPT TO:<…>`, `DATA`, dot-stuffed CRLF
// lines, `.`, and one `QUIT` at the end. The reader accepts exactly that
// subset and nothing looser; it is not an SMTP server.
//
// Each message's stable id travels as an `X-Outpost-Id:` header line put in
// front of the message data. An MTA reading the batch delivers it as an
// ordinary trace header; we read it back and take it off again. (An ESMTP
// parameter on MAIL FROM would be refused by `exim -bS`, which announces no
// extensions in batch mode; see docs/bundle-format.md.)
import { MESSAGE_ID_PATTERN, stableMessageId } from './message-id.js'
import { OutpostError } from '../base/errors.js'

export interface BsmtpMessage {
  /** Envelope sender without angle brackets; '' for a bounce (`MAIL FROM:<>`). */
  sender: string
  recipients: string[]
  /** The message as delivered: CRLF lines, without dot-stuffing and without our X-Outpost-Id line. */
  data: Buffer
  /** The stable message id (see message-id.ts). */
  id: string
}

export interface BsmtpLimits {
  maxMessages: number
  /** Per message, counted on the data as delivered (after un-stuffing, without our header line). */
  maxMessageBytes: number
  /** Per message. */
  maxRecipients: number
}

/** Generous for Delta Chat groups; the caller passes its own node's limits. */
export const DEFAULT_BSMTP_LIMITS: BsmtpLimits = {
  maxMessages: 10_000,
  maxMessageBytes: 32 * 1024 * 1024,
  maxRecipients: 1000,
}

export const ID_HEADER = 'X-Outpost-Id'

/**
 * 'outpost': the batches in our bundles, as written by writeBsmtp (each
 * message starts with its X-Outpost-Id line; QUIT ends the batch).
 *
 * 'classic': what a classic MTA writes for a batch SMTP peer, Exim's pipe
 * transport with `use_bsmtp` (checked with Exim 4.96). It differs in three
 * ways, and only these:
 * - no X-Outpost-Id line: the id is computed from the message as it is
 *   (stableMessageId, the same key the delivery ledger uses);
 * - no QUIT: Exim ends the batch after the "." of its last message. The
 *   batch must then end exactly there; one cut inside an envelope or a
 *   message is refused as truncated, as is anything after a QUIT. The carrier
 *   (NNCP, Filespooler) checks that the packet arrived whole;
 * - an optional HELO or EHLO line first (Exim's `bsmtp_helo`).
 */
export type BsmtpDialect = 'outpost' | 'classic'

export class BsmtpError extends OutpostError {
  override name = 'BsmtpError'
  constructor(
    /** 'too-large' when a limit was hit, 'malformed' for everything else. */
    readonly kind: 'malformed' | 'too-large',
    /** 1-based line of the batch where reading stopped. */
    readonly line: number,
    /** What the reader expected there, in words. */
    readonly expected: string,
    detail: string,
  ) {
    super(`BSMTP line ${line}: expected ${expected}; ${detail}`)
  }
}

const CRLF = Buffer.from('\r\n')
const CRLF_DOT = Buffer.from('\r\n.')
const DOT = Buffer.from('.')
/** What ends a batch: the line after its last message. */
export const BSMTP_QUIT = Buffer.from('QUIT\r\n')
const DATA = Buffer.from('DATA\r\n')
const END_OF_DATA = Buffer.from('.\r\n')
/** RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
const MAX_COMMAND_LINE = 512
/** RFC 5321 4.5.3.1.3: a path is at most 256 octets with its brackets. */
const MAX_PATH = 254

// Printable ASCII without space and angle brackets: enough for every address
// Delta Chat and chatmail use, and nothing that could end the command early.
// Addresses outside ASCII would need SMTPUTF8, which batch mode cannot
// announce, so they are refused rather than written in a way exim rejects.
const ADDRESS = /^[\x21-\x3b\x3d\x3f-\x7e]+$/

function checkAddress(what: string, addr: string, allowEmpty: boolean): void {
  if (addr === '' && allowEmpty) return
  if (addr.length > MAX_PATH || !ADDRESS.test(addr)) {
    throw new Error(
      `cannot write ${what} ${JSON.stringify(addr)} into a bundle: an address must be 1–${MAX_PATH} printable ASCII characters without spaces or angle brackets`,
    )
  }
}

/** Whether some CR or LF in data is not part of a CRLF pair. */
function hasBareLineBreak(data: Buffer): boolean {
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) if (i === 0 || data[i - 1] !== 13) return true
  for (let i = data.indexOf(13); i !== -1; i = data.indexOf(13, i + 1)) if (data[i + 1] !== 10) return true
  return false
}

/** Bare CR, bare LF and a missing final line break all become CRLF, as SMTP requires. */
function toCrlf(data: Buffer): Buffer {
  if (!hasBareLineBreak(data)) {
    return data.length === 0 || data.subarray(-2).equals(CRLF) ? data : Buffer.concat([data, CRLF])
  }
  const out = Buffer.allocUnsafe(data.length * 2 + 2)
  let n = 0
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!
    if (c === 13) {
      if (data[i + 1] === 10) i++
      out[n++] = 13
      out[n++] = 10
    } else if (c === 10) {
      out[n++] = 13
      out[n++] = 10
    } else {
      out[n++] = c
    }
  }
  if (n > 0 && !(out[n - 2] === 13 && out[n - 1] === 10)) {
    out[n++] = 13
    out[n++] = 10
  }
  return out.subarray(0, n)
}

/**
 * Writes messages as one BSMTP batch ending in QUIT. Message data is sent as
 * SMTP would send it: line breaks normalised to CRLF, a final CRLF added if
 * missing, and every line that starts with '.' given a second one.
 *
 * `dialect: 'classic'` writes the batch for an MTA (`exim -bS`, `sendmail
 * -bS` at a classic peer) without our X-Outpost-Id line: the peer would
 * deliver it as a header line that means nothing there.
 */
export function writeBsmtp(messages: readonly BsmtpMessage[], opts: { dialect?: BsmtpDialect } = {}): Buffer {
  const parts: Buffer[] = []
  for (const [i, m] of messages.entries()) parts.push(...bsmtpMessageParts(m, i, { dialect: opts.dialect }))
  parts.push(BSMTP_QUIT)
  return Buffer.concat(parts)
}

/**
 * One message of a batch as the pieces writeBsmtp joins, in order; they are
 * views into `m.data` where they can be, so a writer that streams a batch
 * copies each message once. `index` (from 0) only names the message in
 * errors. A batch is these for every message, then BSMTP_QUIT.
 */
export function bsmtpMessageParts(m: BsmtpMessage, index: number, opts: { dialect?: BsmtpDialect } = {}): Buffer[] {
  const which = `message ${index + 1} (id ${m.id})`
  if (!MESSAGE_ID_PATTERN.test(m.id)) throw new Error(`cannot write message ${index + 1} into a bundle: its id ${JSON.stringify(m.id)} is not 64 lower-case hex digits (use stableMessageId())`)
  checkAddress(`the sender of ${which}`, m.sender, true)
  if (m.recipients.length === 0) throw new Error(`cannot write ${which} into a bundle: it has no recipients`)
  let envelope = `MAIL FROM:<${m.sender}>\r\n`
  for (const r of m.recipients) {
    checkAddress(`a recipient of ${which}`, r, false)
    envelope += `RCPT TO:<${r}>\r\n`
  }
  const parts: Buffer[] = [Buffer.from(envelope, 'latin1'), DATA]
  if (opts.dialect !== 'classic') parts.push(Buffer.from(`${ID_HEADER}: ${m.id}\r\n`, 'latin1'))
  const data = toCrlf(m.data)
  let from = 0
  if (data[0] === 0x2e) parts.push(DOT)
  for (let hit = data.indexOf(CRLF_DOT); hit !== -1; hit = data.indexOf(CRLF_DOT, hit + 2)) {
    parts.push(data.subarray(from, hit + 3), DOT)
    from = hit + 3
  }
  parts.push(data.subarray(from), END_OF_DATA)
  return parts
}

const MAIL_FROM = /^MAIL FROM:<([^<>]*)>(.*)$/i
const RCPT_TO = /^RCPT TO:<([^<>]*)>(.*)$/i
const ID_LINE = new RegExp(`^${ID_HEADER}: ([0-9a-f]{64})\r\n`, 'i')

/**
 * Reads a batch written by writeBsmtp, one message at a time, so a caller
 * that stores each message as it comes never holds a second copy of the
 * batch. Message data is a view into `buf` unless a line had to be
 * un-stuffed.
 *
 * Only CRLF.CRLF ends a message's data. A bare LF, LF.LF, CR.CR or LF.CRLF
 * is data like any other byte: readers that disagreed about this were the
 * "SMTP smuggling" flaw of 2023, where a second message hid inside the first.
 */
export function* readBsmtp(buf: Buffer, limits: Partial<BsmtpLimits> = {}, dialect: BsmtpDialect = 'outpost'): Generator<BsmtpMessage, void, undefined> {
  const lim = { ...DEFAULT_BSMTP_LIMITS, ...limits }
  const classic = dialect === 'classic'
  // Line numbers are only needed for errors, so they are counted then.
  const lineAt = (offset: number) => {
    let n = 1
    for (let i = buf.indexOf(10); i !== -1 && i < offset; i = buf.indexOf(10, i + 1)) n++
    return n
  }
  const fail = (offset: number, expected: string, detail: string, kind: 'malformed' | 'too-large' = 'malformed'): never => {
    throw new BsmtpError(kind, lineAt(offset), expected, detail)
  }
  const commandAt = (pos: number, expected: string): { text: string; next: number } => {
    if (pos >= buf.length) fail(pos, expected, 'the batch ends here (truncated?)')
    const end = buf.indexOf(CRLF, pos)
    const lf = buf.indexOf(10, pos)
    if (end === -1 || end - pos > MAX_COMMAND_LINE - 2) {
      if (lf !== -1 && (end === -1 || lf < end)) fail(pos, expected, 'the line ends in a bare LF; batch SMTP lines end in CRLF')
      fail(pos, expected, end === -1 ? 'the line has no CRLF (truncated?)' : `the line is longer than ${MAX_COMMAND_LINE} bytes`)
    }
    const text = buf.toString('latin1', pos, end)
    if (/[\r\n]/.test(text)) fail(pos, expected, 'the line holds a bare CR or LF; batch SMTP lines end in CRLF')
    return { text, next: end + 2 }
  }

  let pos = 0
  let count = 0
  if (classic && buf.length) {
    const greeting = commandAt(0, '"HELO name", "EHLO name" or "MAIL FROM:<sender>"')
    if (/^(HELO|EHLO) [\x21-\x7e]+$/i.test(greeting.text)) pos = greeting.next
  }
  for (;;) {
    // Exim writes no QUIT: a classic batch may end after a whole message.
    if (classic && count > 0 && pos === buf.length) return
    const first = commandAt(pos, '"MAIL FROM:<sender>" or "QUIT"')
    if (first.text.toUpperCase() === 'QUIT') {
      if (first.next !== buf.length) fail(first.next, 'nothing after QUIT', `${buf.length - first.next} more bytes follow`)
      return
    }
    const mail = MAIL_FROM.exec(first.text)
    if (!mail) fail(pos, '"MAIL FROM:<sender>" or "QUIT"', `got ${JSON.stringify(first.text.slice(0, 80))}`)
    if (mail![2] !== '') fail(pos, '"MAIL FROM:<sender>" with nothing after it', 'ESMTP parameters are not used in Outpost bundles')
    if (++count > lim.maxMessages) fail(pos, `at most ${lim.maxMessages} messages`, 'the batch holds more', 'too-large')
    const sender = mail![1]!
    pos = first.next

    const recipients: string[] = []
    for (;;) {
      const line = commandAt(pos, recipients.length === 0 ? '"RCPT TO:<recipient>"' : '"RCPT TO:<recipient>" or "DATA"')
      if (recipients.length > 0 && line.text.toUpperCase() === 'DATA') {
        pos = line.next
        break
      }
      const rcpt = RCPT_TO.exec(line.text)
      if (!rcpt || rcpt[1] === '') fail(pos, recipients.length === 0 ? '"RCPT TO:<recipient>"' : '"RCPT TO:<recipient>" or "DATA"', `got ${JSON.stringify(line.text.slice(0, 80))}`)
      if (rcpt![2] !== '') fail(pos, '"RCPT TO:<recipient>" with nothing after it', 'ESMTP parameters are not used in Outpost bundles')
      if (recipients.length >= lim.maxRecipients) fail(pos, `at most ${lim.maxRecipients} recipients per message`, `message ${count} has more`, 'too-large')
      recipients.push(rcpt![1]!)
      pos = line.next
    }

    // Data runs from here to the CRLF before a line that is exactly ".".
    // Searching for CRLF "." from the CRLF that ended the DATA line finds
    // both that end and every stuffed line, the first data line included.
    const start = pos
    const pieces: Buffer[] = []
    let from = start
    let size = 0
    for (let hit = buf.indexOf(CRLF_DOT, start - 2); ; hit = buf.indexOf(CRLF_DOT, hit + 2)) {
      if (hit === -1) fail(start, `the data of message ${count} to end with a line holding only "."`, 'the batch ends first (truncated?)')
      if (hit + 2 - from + size > lim.maxMessageBytes + ID_HEADER.length + 68) {
        fail(start, `a message of at most ${lim.maxMessageBytes} bytes`, `message ${count} is larger`, 'too-large')
      }
      if (buf[hit + 3] === 13 && buf[hit + 4] === 10) {
        pieces.push(buf.subarray(from, Math.max(from, hit + 2)))
        pos = hit + 5
        break
      }
      // RFC 5321 4.5.2: a data line starting with '.' lost its first dot.
      pieces.push(buf.subarray(from, hit + 2))
      size += hit + 2 - from
      from = hit + 3
    }
    const whole = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)
    if (classic) {
      // Exim with use_crlf writes every line break as CRLF. A bare LF here
      // means a peer without use_crlf, or a message that hides a second one
      // from readers that end lines differently: refused either way.
      if (hasBareLineBreak(whole)) fail(start, `the data of message ${count} in CRLF lines`, 'it holds a bare LF or CR (is use_crlf set on the peer\'s transport?)')
      if (whole.length > lim.maxMessageBytes) fail(start, `a message of at most ${lim.maxMessageBytes} bytes`, `message ${count} has ${whole.length}`, 'too-large')
      yield { sender, recipients, data: whole, id: stableMessageId(whole, sender) }
      continue
    }
    const idLine = ID_LINE.exec(whole.toString('latin1', 0, Math.min(whole.length, ID_HEADER.length + 70)))
    if (!idLine) fail(start, `message ${count} to start with an "${ID_HEADER}: <64 hex digits>" line`, 'it does not (was the batch written by Outpost?)')
    const data = whole.subarray(idLine![0].length)
    if (data.length > lim.maxMessageBytes) fail(start, `a message of at most ${lim.maxMessageBytes} bytes`, `message ${count} has ${data.length}`, 'too-large')
    yield { sender, recipients, data, id: idLine![1]!.toLowerCase() }
  }
}

/** All messages of a batch; see readBsmtp for what is accepted. */
export function parseBsmtp(buf: Buffer, limits: Partial<BsmtpLimits> = {}, dialect: BsmtpDialect = 'outpost'): BsmtpMessage[] {
  return [...readBsmtp(buf, limits, dialect)]
}
