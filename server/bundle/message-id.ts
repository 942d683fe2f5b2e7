// The id a message keeps for its whole trip: from the node that accepted it
// over SMTP, through every bundle that carries it, to the node that delivers
// it. Dedup and acks are keyed on it, so it must not change when a node
// re-bundles the message or adds its own trace headers.
//
// It is the delivery ledger's message key (server/delivery/deliver.ts),
// imported rather than written a second time: a message that arrives in a
// bundle and one that arrives over SMTP are then the same row in the ledger,
// and the two definitions cannot drift apart.
import { messageKey } from '../delivery/deliver.js'

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
