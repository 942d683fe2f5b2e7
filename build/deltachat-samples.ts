// Captures real short Delta Chat messages, as the real core (the
// @deltachat/stdio-rpc-server this repository pins) writes them, into
// test/fixtures/deltachat/: two phones on one node become verified contacts
// by SecureJoin, then each sends short texts while the other's IO is
// stopped, so the encrypted messages wait in the Maildir as Dovecot stored
// them. The narrow-link dictionary (build/narrow-dictionary.ts), the unit
// tests of the compact encoding and bench/lora.ts read these files.
//
//   node build/build.mjs && node --import tsx build/deltachat-samples.ts
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Phone, secureJoin } from '../test/helpers/deltachat.js'
import { startNode } from '../test/helpers/node.js'
import { maildirFiles } from '../test/helpers/mail.js'
import { waitFor } from '../test/helpers/wait.js'

const OUT = fileURLToPath(new URL('../test/fixtures/deltachat/', import.meta.url))
const TEXTS = [
  'Water at the camp is fine',
  'Good. The road to town is open again.',
  'Meet at the north gate at noon?',
  'ok',
  'Bringing the water filter and two batteries, back before dark.',
  'Did the radio work last night?',
]

const node = await startNode({ domain: 'camp.test' })
const phones: Phone[] = []
try {
  const a = await node.addAccount('alice')
  const b = await node.addAccount('bob')
  const alice = await Phone.start('alice')
  phones.push(alice)
  const bob = await Phone.start('bob')
  phones.push(bob)
  await alice.addAccountFromQr(await node.dclogin(a.address))
  await bob.addAccountFromQr(await node.dclogin(b.address))
  const chat = await secureJoin(alice, bob, 60_000)
  rmSync(OUT, { recursive: true, force: true })
  mkdirSync(OUT, { recursive: true })
  let n = 0
  for (const [from, to, chatId, local] of [[alice, bob, chat.inviterChatId, 'bob'], [bob, alice, chat.joinerChatId, 'alice']] as const) {
    const address = `${local}@camp.test`
    await to.stopIo()
    const before = new Set(maildirFiles(node.data, address))
    for (const text of TEXTS) {
      const since = from.mark()
      const id = await from.sendText(chatId, text)
      await from.waitFor('MsgDelivered', (e) => e.msgId === id, 60_000, since)
    }
    const fresh = await waitFor(`${TEXTS.length} messages in ${local}'s Maildir`, async () => {
      const f = maildirFiles(node.data, address).filter((p) => !before.has(p) && readFileSync(p, 'latin1').includes('BEGIN PGP MESSAGE'))
      return f.length >= TEXTS.length ? f : undefined
    }, 60_000)
    for (const p of fresh.sort()) writeFileSync(join(OUT, `short-${String(++n).padStart(2, '0')}.eml`), readFileSync(p))
    await to.startIo()
  }
  console.log(`wrote ${n} messages to ${OUT}`)
} finally {
  await Promise.allSettled(phones.map((p) => p.close()))
  await node.destroy()
}
