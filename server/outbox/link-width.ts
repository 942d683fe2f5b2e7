// What a carrier may take, by its width: the selection rule of an export run
// and the reason the queue shows for a message a carrier leaves behind.
//
// - A wide carrier (a stick, Syncthing, HTTP, NNCP as usually run) takes
//   everything that is due, oldest first.
// - A narrow carrier (a LoRa radio, or any carrier a person marks narrow)
//   takes only messages up to its size limit, and of those the chat-sized
//   ones (text, receipts, reactions: about 2.3 KB each once encrypted) first,
//   each group oldest first, in bundles of their own, so a long message
//   never holds a short one back on air. A message above the limit (a
//   photo, a voice message, a file) is held for a wider carrier to the same
//   peer. It stays in the outbox like any other until that peer acks it: the
//   rule decides only which run writes it, never whether it is kept.
//
// A peer reached only by narrow carriers never gets a held message by
// itself: a photo at LoRa's rates takes hours to days of airtime, and would
// keep every chat message behind it that long. The queue says so, with what
// to do (add a wider carrier, or raise the limit), and the message waits.

/** How wide a carrier is, as an export run and the queue views use it. */
export interface LinkWidth {
  narrow: boolean
  /** The largest message (its size in the outbox, in bytes) the carrier takes; Infinity on a wide one. */
  maxMessageBytes: number
}

export const WIDE: LinkWidth = { narrow: false, maxMessageBytes: Number.POSITIVE_INFINITY }

/**
 * Messages up to this size go first on a narrow carrier. A Delta Chat text
 * or read receipt is about 2.3 KB on the wire, a long text with a quote a
 * few KB; 16 KiB keeps all of them in the first group and leaves out even
 * the smallest images and voice messages (tens of KB and up).
 */
export const CHAT_MAX_BYTES = 16 * 1024

/** A size band of an export run: messages with minBytes < size ≤ maxBytes, oldest first. */
export interface SizeBand {
  minBytes: number
  maxBytes: number
}

/**
 * The bands an export run over `link` walks, in the order it sends them:
 * everything at once on a wide carrier; chat-sized messages, then the rest
 * up to the limit, on a narrow one.
 */
export function sendBands(link: LinkWidth): SizeBand[] {
  if (!link.narrow) return [{ minBytes: -1, maxBytes: link.maxMessageBytes }]
  const chat = Math.min(CHAT_MAX_BYTES, link.maxMessageBytes)
  const bands: SizeBand[] = [{ minBytes: -1, maxBytes: chat }]
  if (link.maxMessageBytes > chat) bands.push({ minBytes: chat, maxBytes: link.maxMessageBytes })
  return bands
}

/** Whether a carrier of this width takes a message of `size` bytes. */
export function mayCarry(link: LinkWidth, size: number): boolean {
  return size <= link.maxMessageBytes
}

/** A carrier of a peer as the queue explains a hold: which one, and how wide. */
export interface CarrierWidth {
  id: number
  kind: string
  link: LinkWidth
}

/** Why a waiting message does not go by some of its peer's carriers. */
export interface Hold {
  /**
   * `wider`: a carrier of the peer takes it, the narrow ones wait for that;
   * `only-narrow`: none of the peer's carriers takes it, so it waits until
   * a person adds a wider one or raises a limit.
   */
  kind: 'wider' | 'only-narrow'
  /** One line a person can read and act on. */
  reason: string
}

const kib = (bytes: number): string => `${Math.round(bytes / 1024)} KiB`

/**
 * Whether, and why, a message of `size` bytes for `peer` is held back from
 * some of its carriers; null when every carrier takes it (or the peer has no
 * carrier yet, which the queue's run history already tells).
 */
export function holdFor(peer: string, size: number, carriers: readonly CarrierWidth[]): Hold | null {
  const refusing = carriers.filter((c) => !mayCarry(c.link, size))
  if (!refusing.length) return null
  const limits = refusing.map((c) => `${c.kind} #${c.id} takes up to ${kib(c.link.maxMessageBytes)}`).join(', ')
  const taking = carriers.filter((c) => mayCarry(c.link, size))
  if (taking.length) {
    return { kind: 'wider', reason: `held for a wider carrier (${taking.map((c) => `${c.kind} #${c.id}`).join(', ')}): ${kib(size)} is over the narrow limit (${limits})` }
  }
  return { kind: 'only-narrow', reason: `held: only narrow carriers reach ${peer}; add a wider one, or raise the limit (${limits}; this message is ${kib(size)})` }
}

/** What a peer's carriers hold back, in counts: the queue's heading for the peer. */
export interface PeerHolds {
  /** Messages some carrier of the peer does not take. */
  held: number
  /** Of those, the ones no carrier of the peer takes. */
  onlyNarrow: number
}

/** The smallest size some carrier refuses, and the smallest none takes (Infinity when none / some carrier takes all). */
export function holdThresholds(carriers: readonly CarrierWidth[]): { someRefuse: number; allRefuse: number } {
  if (!carriers.length) return { someRefuse: Infinity, allRefuse: Infinity }
  const limits = carriers.map((c) => c.link.maxMessageBytes)
  return { someRefuse: Math.min(...limits), allRefuse: Math.max(...limits) }
}

/** The queue's line for a peer whose carriers hold something back; null when nothing is held. */
export function peerHoldNote(peer: string, holds: PeerHolds, carriers: readonly CarrierWidth[]): string | null {
  if (!holds.held) return null
  const narrow = carriers.filter((c) => c.link.narrow).map((c) => `${c.kind} #${c.id} takes up to ${kib(c.link.maxMessageBytes)}`).join(', ')
  const n = (k: number) => `${k} message${k === 1 ? '' : 's'}`
  if (holds.onlyNarrow) {
    const rest = holds.held - holds.onlyNarrow
    return `held: only narrow carriers reach ${peer}; add a wider one, or raise the limit (${narrow}): ${n(holds.onlyNarrow)} wait${holds.onlyNarrow === 1 ? 's' : ''} for that` +
      (rest ? `; ${n(rest)} more go${rest === 1 ? 'es' : ''} only by the larger carrier` : '')
  }
  return `${n(holds.held)} held for a wider carrier (${narrow})`
}
