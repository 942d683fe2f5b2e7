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

