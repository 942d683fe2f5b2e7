// Delivers accepted mail to Dovecot over LMTP (lib/delivery.ts). It hooks
// queue_outbound, where Haraka sends every authenticated sender's mail, and
// queue for completeness; whatever happens, it answers, so nothing falls
// through to Haraka's own outbound queue.
import constants from 'haraka-constants'
import type { Connection, HarakaPlugin, Next } from '../lib/haraka-api.js'
import { deliver, readMessage } from '../lib/delivery.js'
import { guardHook } from '../lib/guard.js'
import { nodeDb } from '../lib/node-db.js'
import { attachToSupervisor, trackDelivery } from '../lib/lifecycle.js'
import { watchSettings } from '../lib/plugin-settings.js'
import { smtpReply } from '../lib/reply.js'
import type { OutpostSettings } from '../lib/settings.js'

let settings: () => OutpostSettings

/** Haraka adds Received and Authentication-Results headers after the size check. */
const HEADER_ALLOWANCE = 64 * 1024

export function register(this: HarakaPlugin): void {
  settings = watchSettings(this)
  attachToSupervisor(settings().pidFile)
  this.register_hook('queue_outbound', 'deliver_local')
  this.register_hook('queue', 'deliver_local')
}

export const deliver_local = guardHook('deliver_local', async function (this: HarakaPlugin, next: Next, connection: Connection) {
  const txn = connection.transaction
  if (!txn) return next(constants.denysoft, smtpReply(451, '4.3.0', 'No transaction to deliver'))
  const s = settings()
  const message = await readMessage(txn.message_stream, s.maxMessageBytes + HEADER_ALLOWANCE)
  const outcome = await trackDelivery(() =>
    deliver({
      db: nodeDb(s.db),
      lmtp: { socketPath: s.lmtpSocket, lhloName: s.hostname, timeoutMs: s.lmtpTimeoutMs },
      sender: txn.mail_from.address,
      recipients: txn.rcpt_to.map((r) => r.address),
      message,
      mailDir: s.mailDir,
    }),
  )
  connection.loginfo(this, `delivery ${outcome.verdict}: key=${outcome.messageKey.slice(0, 16)} ${outcome.text}`)
  if (outcome.verdict === 'delivered') return next(constants.ok, outcome.text)
  if (outcome.verdict === 'retry') return next(constants.denysoft, outcome.text)
  next(constants.deny, outcome.text)
})
