// The node's database. Dovecot reads `accounts` directly (passdb sql with the
// sqlite driver), so the column names here are part of the generated
// dovecot.conf's queries: change both together.
import { sqliteTable, text, integer, primaryKey, index } from 'drizzle-orm/sqlite-core'

export const accounts = sqliteTable('accounts', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  /** Lower-case user@domain. */
  address: text('address').notNull().unique(),
  /** Dovecot-style "{ARGON2ID}$argon2id$v=19$m=…" string, verified by both Dovecot and Haraka. */
  passwordHash: text('password_hash').notNull(),
  /** Per-account quota in MiB; null means the node default. */
  quotaMb: integer('quota_mb'),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
})

/**
 * The delivery ledger: one row per (message, recipient). A row is written
 * as `pending` before the message goes to Dovecot and becomes `delivered`
 * once Dovecot has stored it. A client that retries after a partial failure
 * gets only the recipients that are still missing; a `pending` row left by
 * a crash is settled by looking for the message in the mailbox.
 */
export const deliveries = sqliteTable(
  'deliveries',
  {
    messageKey: text('message_key').notNull(),
    recipient: text('recipient').notNull(),
    deliveredAt: integer('delivered_at', { mode: 'number' }).notNull(),
    state: text('state', { enum: ['pending', 'delivered'] }).notNull().default('delivered'),
  },
  (t) => [primaryKey({ columns: [t.messageKey, t.recipient] }), index('deliveries_delivered_at').on(t.deliveredAt)],
)


/**
 * Other nodes this node exchanges mail with, each added from its card. The
 * signing key is what a bundle from the peer is checked against, so one key
 * belongs to one peer only; domains and reach are the card's lists as JSON.
 */
export const peers = sqliteTable('peers', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull().unique(),
  /** Ed25519 public key, raw 32 bytes as base64url. */
  signKey: text('sign_key').notNull().unique(),
  /** age1… */
  ageRecipient: text('age_recipient').notNull(),
  /** JSON array of domain names from the card. */
  domains: text('domains').notNull(),
  /** JSON array of { kind, address } from the card. */
  reach: text('reach').notNull(),
  addedAt: integer('added_at', { mode: 'number' }).notNull(),
})

/**
 * Explicit routes: mail for `domain` goes to `peer`. The domain `*` is the
 * default route. A route is meaningless without its peer, so removing the
 * peer removes its routes.
 */
export const routes = sqliteTable('routes', {
  domain: text('domain').primaryKey(),
  peer: text('peer')
    .notNull()
    .references(() => peers.name, { onDelete: 'cascade' }),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
})

/**
 * Mail waiting for a peer: one row per (message, next-hop peer). The message
 * itself is a file in the spool dir, written durably before the row. A row
 * stays, and is exported again with every exchange, until that peer acks
 * the message.
 */
export const outbox = sqliteTable(
  'outbox',
  {
    messageId: text('message_id').notNull(),
    peer: text('peer').notNull(),
    sender: text('sender').notNull(),
    /** JSON array of the recipients this peer is to take the message on to. */
    recipients: text('recipients').notNull(),
    size: integer('size', { mode: 'number' }).notNull(),
    /** Nodes the message passed through before this one (0: it entered here over SMTP). */
    hops: integer('hops', { mode: 'number' }).notNull(),
    queuedAt: integer('queued_at', { mode: 'number' }).notNull(),
    expiresAt: integer('expires_at', { mode: 'number' }).notNull(),
    exports: integer('exports', { mode: 'number' }).notNull().default(0),
    lastExportAt: integer('last_export_at', { mode: 'number' }),
    lastBundleId: text('last_bundle_id'),
    /** The carrier the message last left by (`folder`, `usb`, `http`, `nncp`, …); null while it never left. */
    lastVia: text('last_via'),
    /**
     * When an online carrier may send the message again (resend-policy.ts):
     * 0 while it never left, or after a retry; set at every departure from
     * the retransmit timeout of the carrier it left by.
     */
    dueAt: integer('due_at', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.peer] }),
    // A peer's page of the queue, oldest first, is a seek in this index; with
    // size at its end it also covers the per-peer counts and sums, so those
    // never touch the table's rows (server/outbox/queue-query.ts).
    index('outbox_peer_queued').on(t.peer, t.queuedAt, t.messageId, t.size),
    // The queue across all peers, oldest first, and the oldest message's age.
    index('outbox_queued').on(t.queuedAt, t.peer, t.messageId),
    // "Has this peer anything due?", asked by the scheduler every half second;
    // with size at its end, also within a narrow carrier's limit
    // (outbox/link-width.ts) without reading the rows.
    index('outbox_peer_due').on(t.peer, t.dueAt, t.lastExportAt, t.size),
  ],
)

/**
 * What waits for each peer, kept by triggers on `outbox` (migration 0008)
 * in the same transaction as every row that comes or goes, so `status`,
 * the dashboard and the queue's headings read one row per peer, not one
 * per message. A peer with nothing waiting has no row.
 */
export const outboxPeerTotals = sqliteTable('outbox_peer_totals', {
  peer: text('peer').primaryKey(),
  messages: integer('messages', { mode: 'number' }).notNull(),
  bytes: integer('bytes', { mode: 'number' }).notNull(),
})

/** Acks this node owes its peers: messages it took over, to be reported on the next exchange. */
export const acksOwed = sqliteTable(
  'acks_owed',
  {
    peer: text('peer').notNull(),
    messageId: text('message_id').notNull(),
    createdAt: integer('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.peer, t.messageId] })],
)

/** Bundles imported in full: the same bundle seen again is skipped at once. */
export const importedBundles = sqliteTable('imported_bundles', {
  bundleId: text('bundle_id').primaryKey(),
  origin: text('origin').notNull(),
  kind: text('kind').notNull(),
  messages: integer('messages', { mode: 'number' }).notNull(),
  importedAt: integer('imported_at', { mode: 'number' }).notNull(),
})

/**
 * Messages this node has taken over from a bundle, by stable id: the same
 * message arriving again, in another bundle or by another route, is
 * acknowledged again but not delivered or forwarded twice.
 */
export const seenMessages = sqliteTable('seen_messages', {
  messageId: text('message_id').primaryKey(),
  fromPeer: text('from_peer').notNull(),
  seenAt: integer('seen_at', { mode: 'number' }).notNull(),
})

/** How this node reaches a peer: one row per (peer, carrier), each with its own schedule. */
export const transports = sqliteTable('transports', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  peer: text('peer').notNull(),
  kind: text('kind').notNull(),
  /** JSON object of the driver's settings (strings), checked by the driver. */
  config: text('config').notNull(),
  /** A cron expression, or `event` for "whenever mail waits". */
  schedule: text('schedule').notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
})

/** Every run of a transport, for status, backoff and the web admin. */
export const transportRuns = sqliteTable(
  'transport_runs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    transportId: integer('transport_id').notNull(),
    startedAt: integer('started_at', { mode: 'number' }).notNull(),
    finishedAt: integer('finished_at', { mode: 'number' }),
    ok: integer('ok', { mode: 'boolean' }),
    error: text('error'),
    bytesOut: integer('bytes_out', { mode: 'number' }).notNull().default(0),
    bytesIn: integer('bytes_in', { mode: 'number' }).notNull().default(0),
    detail: text('detail'),
  },
  (t) => [index('transport_runs_transport').on(t.transportId, t.startedAt)],
)

/**
 * The activity log: every step of a message's flow and every carrier run,
 * written by whichever process saw it (Haraka's plugins, the node, a USB
 * offload started by udev). The node tails this table by id and pushes new
 * rows to the web admin, so the table is also the bus between processes.
 * Old rows are pruned by the node (see `events.retentionDays`).
 */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at', { mode: 'number' }).notNull(),
    /** A key of `OutpostEvents` (server/events/types.ts). */
    kind: text('kind').notNull(),
    /** The event's payload as JSON, shaped by its kind. */
    data: text('data').notNull(),
  },
  (t) => [index('events_at').on(t.at), index('events_kind_at').on(t.kind, t.at)],
)

/**
 * Settings changed at run time (from the web admin or the CLI) that are not
 * part of outpost.toml: one JSON value per key. Keys are named
 * `<area>.<name>`, e.g. `admin.passwordHash`, `uplink.kind`, `clock.floor`.
 */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: integer('updated_at', { mode: 'number' }).notNull(),
})

/**
 * Web admin sessions. Only a hash of the session id is stored, so a copy
 * of the database does not let anyone log in. They live in the database so
 * that restarting the node does not log the admin out.
 */
export const sessions = sqliteTable('sessions', {
  /** sha256 of the session cookie's value, hex. */
  idHash: text('id_hash').primaryKey(),
  /** The value every change must carry in its x-csrf-token header. */
  csrf: text('csrf').notNull(),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
  /** The last request a person made; the dashboard's own polling does not count. */
  lastSeenAt: integer('last_seen_at', { mode: 'number' }).notNull(),
})

/** Invite codes with which group members create their own account on the landing page. */
export const invites = sqliteTable('invites', {
  code: text('code').primaryKey(),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'number' }).notNull(),
  maxUses: integer('max_uses', { mode: 'number' }).notNull(),
  uses: integer('uses', { mode: 'number' }).notNull().default(0),
})

/**
 * What a LoRa radio did, an hour per row: airtime and frames, kept so the
 * radio's state (`outpost radio`, the web admin) survives a restart of the
 * node. Rows older than a week are pruned, so the table holds at most
 * 168 rows per radio transport.
 */
export const radioHours = sqliteTable(
  'radio_hours',
  {
    transportId: integer('transport_id').notNull(),
    /** The hour's start, ms since the epoch (UTC). */
    hour: integer('hour', { mode: 'number' }).notNull(),
    airtimeMs: integer('airtime_ms', { mode: 'number' }).notNull().default(0),
    framesSent: integer('frames_sent', { mode: 'number' }).notNull().default(0),
    framesResent: integer('frames_resent', { mode: 'number' }).notNull().default(0),
    framesReceived: integer('frames_received', { mode: 'number' }).notNull().default(0),
    /** Frames heard but unreadable: corrupted on air, or for another link. */
    framesBad: integer('frames_bad', { mode: 'number' }).notNull().default(0),
    /** Polls whose ACK never came back: the frame or its answer was lost on air. */
    acksMissed: integer('acks_missed', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.transportId, t.hour] })],
)
