// A large outbox, fast: the same rows (and, when asked, the same spool
// files) that Outbox.enqueue writes for mail accepted over SMTP, written in
// one transaction instead of one fsync'd commit per message. What differs
// is only durability during the seeding: the files are not fsync'd.
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Db } from '../../server/db/index.js'
import { DEFAULT_MESSAGE_LIFETIME_MS } from '../../server/outbox/outbox.js'

export interface SeedOptions {
  /** How many messages; message i goes to peers[i % peers.length]. */
  messages: number
  peers: string[]
  /** The spool folder: with it, each message's file is written too (export reads them). */
  spool?: string
  /** The first message's time; each next one is a second later. */
  start?: number
  /** Where ids start counting, so two seedings do not collide. */
  offset?: number
  /** The message body's size in bytes (a Delta Chat text message is about 2.3 KB). */
  bodyBytes?: number
  /** Also the `message.queued` event Outbox.enqueue records for each row (the activity log and traffic chart read them). */
  events?: boolean
  /** The envelope of message i; by default from user(i % 500)@camp.test to friend(i % 97) at the peer's domain (PEER.test). */
  envelope?: (i: number, peer: string) => { sender: string; recipients: string[] }
}

/** A stable message id as the bundle format has them: 64 hex digits. */
export function seedId(i: number): string {
  return createHash('sha256').update(`seed-${i}`).digest('hex')
}

/** A message as a phone would submit it, padded to about `bodyBytes`. */
export function seedMessage(i: number, bodyBytes: number, envelope?: { sender: string; recipients: string[] }): Buffer {
  const from = envelope?.sender ?? `user${i % 500}@camp.test`
  const head = `From: ${from}\r\nTo: ${envelope?.recipients.join(', ') ?? `friend${i % 97}@far.test`}\r\nMessage-ID: <seed${i}@${from.slice(from.indexOf('@') + 1)}>\r\nSubject: [...]\r\n\r\n`
  const body = createHash('sha512').update(String(i)).digest('base64')
  return Buffer.from(head + body.repeat(Math.max(1, Math.ceil(bodyBytes / body.length))).slice(0, bodyBytes) + '\r\n')
}

export function seedOutbox(db: Db, o: SeedOptions): string[] {
  const start = o.start ?? Date.now() - o.messages * 1000
  const offset = o.offset ?? 0
  const bodyBytes = o.bodyBytes ?? 2300
  const insert = db.$client.prepare(
    'INSERT INTO outbox (message_id, peer, sender, recipients, size, hops, queued_at, expires_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT DO NOTHING',
  )
  const event = db.$client.prepare("INSERT INTO events (at, kind, data) VALUES (?, 'message.queued', ?)")
  const ids: string[] = []
  // Made by the node on its first start; a node that never ran has none yet.
  if (o.spool) mkdirSync(o.spool, { recursive: true, mode: 0o700 })
  db.$client.transaction(() => {
    for (let n = 0; n < o.messages; n++) {
      const i = offset + n
      const id = seedId(i)
      const peer = o.peers[i % o.peers.length]!
      const given = o.envelope?.(i, peer)
      const data = seedMessage(i, bodyBytes, given)
      if (o.spool) writeFileSync(join(o.spool, `${id}.eml`), data, { mode: 0o600 })
      const queuedAt = start + n * 1000
      const env = given ?? { sender: `user${i % 500}@camp.test`, recipients: [`friend${i % 97}@${peer}.test`] }
      const added = insert.run(id, peer, env.sender, JSON.stringify(env.recipients), data.length, queuedAt, queuedAt + DEFAULT_MESSAGE_LIFETIME_MS).changes
      if (o.events && added) event.run(queuedAt, JSON.stringify({ messageId: id, peer, size: data.length }))
      ids.push(id)
    }
  })()
  return ids
}
