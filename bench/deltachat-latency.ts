// Send → IncomingMsg between two real Delta Chat cores, with a breakdown of
// where the time goes, read from three clocks on one machine: the sender's
// MsgDelivered (its SMTP 250), the file landing in the recipient's Maildir
// (LMTP done), and the recipient's IncomingMsg (IDLE push, fetch, decrypt).
import { watch } from 'node:fs'
import { Phone, secureJoin } from '../test/helpers/deltachat.js'

export interface ChatPair {
  sender: Phone
  recipient: Phone
  chatId: number
  close(): Promise<void>
}

/**
 * Two phones configured from dclogin: URIs and joined by SecureJoin; the
 * recipient is the inviter. A phone given a network namespace runs inside
 * it, on the same network as its box.
 */
export async function chatPair(label: string, senderUri: string, recipientUri: string, opts: { senderNetns?: string; recipientNetns?: string } = {}): Promise<ChatPair> {
  const phones: Phone[] = []
  const close = async () => {
    await Promise.allSettled(phones.map((p) => p.close()))
  }
  try {
    const sender = await Phone.start(`${label}-sender`, { netns: opts.senderNetns })
    phones.push(sender)
    const recipient = await Phone.start(`${label}-recipient`, { netns: opts.recipientNetns })
    phones.push(recipient)
    await sender.addAccountFromQr(senderUri)
    await recipient.addAccountFromQr(recipientUri)
    const chat = await secureJoin(recipient, sender)
    // Let both cores settle back into IDLE so the first sample is not a reconnect.
    await new Promise((r) => setTimeout(r, 1500))
    return { sender, recipient, chatId: chat.joinerChatId, close }
  } catch (err) {
    await close()
    throw err
  }
}

export interface ChatSample {
  /** send_msg → MsgDelivered: the core renders and encrypts, then SMTP until the 250. */
  deliveredMs: number
  /** send_msg → the file in the recipient's Maildir/new. */
  storedMs: number | undefined
  /** send_msg → IncomingMsg on the recipient. */
  incomingMs: number
  /** When send_msg was called, in wall-clock ms (for a node's trace, which is stamped the same way). */
  sentAt: number
}

/**
 * The core paces its own SMTP sending (a token bucket of 3 with one message a
 * second refilled), so messages sent back to back would measure that pacing,
 * not the server. Each message starts at least this long after the previous one.
 */
export const CHAT_SEND_INTERVAL_MS = 1200

export async function chatLatency(pair: ChatPair, recipientMaildirNew: string, n: number, warmup = 3): Promise<ChatSample[]> {
  // The recipient core has logged in and selected INBOX, so Dovecot has created the Maildir.
  const arrivals: number[] = []
  const seen = new Set<string>()
  const fsWatch = watch(recipientMaildirNew, (event, name) => {
    // The core deletes the file after fetching it; only a name's first event is its arrival.
    if (event !== 'rename' || !name || seen.has(name)) return
    seen.add(name)
    arrivals.push(performance.now())
  })
  const samples: ChatSample[] = []
  try {
    for (let i = 0; i < n + warmup; i++) {
      const text = `bench ${i} ${Date.now()}`
      const sentMark = pair.sender.mark()
      const recvMark = pair.recipient.mark()
      const t0 = performance.now()
      const msgId = await pair.sender.sendText(pair.chatId, text)
      const got = await pair.recipient.waitForIncoming((m) => m.text === text, 60_000, recvMark)
      const delivered = await pair.sender.waitFor('MsgDelivered', (e) => e.msgId === msgId, 60_000, sentMark)
      if (!got.message.showPadlock) throw new Error(`${pair.recipient.name}: message ${i} arrived without end-to-end encryption`)
      const stored = arrivals.find((t) => t >= t0)
      if (i >= warmup) samples.push({ deliveredMs: delivered.at - t0, storedMs: stored === undefined ? undefined : stored - t0, incomingMs: got.at - t0, sentAt: performance.timeOrigin + t0 })
      const rest = t0 + CHAT_SEND_INTERVAL_MS - performance.now()
      if (rest > 0) await new Promise((r) => setTimeout(r, rest))
    }
  } finally {
    fsWatch.close()
  }
  return samples
}
