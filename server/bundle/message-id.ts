// The id a message keeps for its whole trip: from the node that accepted it
// over SMTP, through every bundle that carries it, to the node that delivers
// it. Dedup and acks are keyed on it, so it must not change when a node
// re-bundles the message or adds its own trace headers.
//
// It is also the delivery ledger's message key (server/delivery/deliver.ts
// imports it from here rather than writing it a second time): a message that
// arrives in a bundle and one that arrives over SMTP are then the same row in
// the ledger, and the two definitions cannot drift apart.
import { createHash } from 'node:crypto'

/** 64 lower-case hex digits. */
export type MessageId = string

export const MESSAGE_ID_PATTERN = /^[0-9a-f]{64}$/

/**
 * sha256(Message-ID header value + '\0' + lower-cased envelope sender + '\0' +
 * hex sha256 of the header without its trace fields + '\0' + hex sha256 of
 * everything after the first empty line), as hex. Trace fields (Received,
 * Authentication-Results, X-Outpost-*, …) are left out on purpose: every hop
 * adds a Received header and every bundle an X-Outpost-Id header, and
 * neither may change the id. See docs/bundle-format.md.
 */
export function stableMessageId(data: Buffer, sender: string): MessageId {
  return messageKey(data, sender)
}

export function isMessageId(s: unknown): s is MessageId {
  return typeof s === 'string' && MESSAGE_ID_PATTERN.test(s)
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Splits at the first empty line; a message without one is all header. */
export function splitMessage(message: Buffer): { header: string; body: Buffer } {
  const crlf = message.indexOf('\r\n\r\n')
  const lf = message.indexOf('\n\n')
  if (crlf === -1 && lf === -1) return { header: message.toString('latin1'), body: Buffer.alloc(0) }
  const [at, sepLen] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2]
  return { header: message.subarray(0, at).toString('latin1'), body: message.subarray(at + sepLen) }
}

export function messageIdOf(header: string): string {
  const unfolded = header.replace(/\r?\n[ \t]+/g, ' ')
  const m = /^message-id[ \t]*:[ \t]*(.*)$/im.exec(unfolded)
  return m ? m[1]!.trim() : ''
}

/**
 * Header fields that differ between two attempts at the same message: what
 * a hop adds or rewrites (Haraka's Received and Authentication-Results, with
 * the time and session of each attempt, our own X-Outpost-* trace lines,
 * what a delivering MTA adds), and Date, which a client that builds the
 * message anew for its retry (nodemailer does) sets to the time of the
 * retry. Everything else in the header is the author's, and the same on
 * every retry.
 */
const TRACE_FIELD = /^(date|received|return-path|delivered-to|x-outpost-[a-z-]*|authentication-results|original-authentication-results|received-spf|arc-[a-z-]*)$/i

/** The header as its author wrote it: unfolded fields without the trace fields, in their order, names in lower case. */
export function authoredHeader(header: string): string {
  const fields: string[] = []
  for (const line of header.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += ` ${line.trim()}`
    else fields.push(line)
  }
  const named = fields.map((f) => {
    const colon = f.indexOf(':')
    return { name: colon === -1 ? '' : f.slice(0, colon).trim().toLowerCase(), field: f }
  })
  // Names in lower case, as they compare; values as written.
  return named.filter((f) => !TRACE_FIELD.test(f.name)).map((f) => (f.name ? `${f.name}:${f.field.slice(f.field.indexOf(':') + 1)}` : f.field)).join('\n')
}

/**
 * The ledger key of a message: the same message retried by its client gets
 * the same key, and two different messages never do. The header is hashed
 * without its trace fields because Haraka adds a Received header with the
 * time and session id to each attempt. Message-ID, envelope sender, the
 * rest of the header (Date, Subject, To, …) and the body together tell apart
 * two messages whose bodies happen to be equal; a message that came without
 * a Message-ID got a unique one at submission (outpost_policy), so even two
 * byte-identical scripted messages differ.
 */
export function messageKey(message: Buffer, sender: string): string {
  const { header, body } = splitMessage(message)
  return sha256(`${messageIdOf(header)}\0${sender.toLowerCase()}\0${sha256(authoredHeader(header))}\0${sha256(body)}`)
}
