// The one typed map of everything that happens on a node and is worth
// showing to a person: the web admin's activity page and its live updates,
// the dashboard's traffic chart and `outpost status` all read these.
// Shared by the server and the web app (web/ imports this file's types).

// `via` names how a message or bundle travelled: `smtp` (straight from a
// phone), or the carrier: `folder`, `usb`, `http`, `nncp`, `filespooler`,
// `syncthing`, or `stdin` for a bundle a carrier piped into `outpost import -`.
export interface OutpostEvents {
  /** Haraka answered 250 for a message from a local user. */
  'message.accepted': { messageId: string; from: string; to: string[]; size: number }
  /** Dovecot stored a message in a local mailbox. `via` is smtp, or the carrier of the bundle it came in. */
  'message.delivered': { messageId: string; recipient: string; via: string }
  /** A message was put in the outbox for a peer. */
  'message.queued': { messageId: string; peer: string; size: number }
  /** A message left by the Internet uplink (gateway outbound or smarthost). */
  'message.sent': { messageId: string; recipient: string; via: string }
  'bundle.exported': { peer: string; bundleId: string; messages: number; bytes: number; via: string }
  'bundle.imported': { peer: string; bundleId: string; messages: number; duplicates: number; via: string }
  'bundle.quarantined': { file: string; reason: string; via: string }
  /** An entry on a stick left alone, unread: a link, a FIFO, a folder named like a bundle, or unreadable. */
  'bundle.skipped': { file: string; reason: string; via: string }
  'ack.received': { peer: string; messages: number }
  /**
   * An import from a folder (a stick, `outpost import DIR`, a folder or
   * Syncthing carrier): start, progress (done of total bytes of bundle
   * files, and the messages handled so far), done or error.
   */
  'import.run': {
    via: string
    phase: 'start' | 'progress' | 'done' | 'error'
    done?: number
    total?: number
    messages?: number
    error?: string
  }
  /** A carrier run: start, progress (done of total bytes or bundles), done or error. */
  'transport.run': {
    transportId: number
    peer: string
    kind: string
    phase: 'start' | 'progress' | 'done' | 'error'
    done?: number
    total?: number
    error?: string
  }
  'usb.inserted': { path: string }
  'usb.offload': { path: string; phase: 'start' | 'progress' | 'done' | 'error'; done?: number; total?: number; error?: string }
  'usb.removed': { path: string; safe: boolean }
  'uplink.online': { kind: string; peer?: string }
  'uplink.offline': { kind: string; peer?: string }
  /** Something a person should look at. */
  'error': { source: string; message: string }
}

export type EventKind = keyof OutpostEvents

export interface OutpostEvent<K extends EventKind = EventKind> {
  /** The row id in the events table; 0 for transient events (progress) that are not stored. */
  id: number
  at: number
  kind: K
  data: OutpostEvents[K]
}

/** Progress is pushed live but not stored: one row per percent would flood the log. */
export function isTransient<K extends EventKind>(kind: K, data: OutpostEvents[K]): boolean {
  const phase = (data as { phase?: string }).phase
  return phase === 'progress'
}
