// A group's phones logging in at once on a node that has just started, as
// when the box boots and every phone reconnects, and again after a quiet
// spell. Each login is a passdb lookup and an Argon2id check in Dovecot's
// auth workers, of which at most AUTH_WORKERS run. On Dovecot 2.4.1 with
// that cap, a burst of logins after the workers had sat idle hung until
// imap-login gave up, and one on an auth process that has not yet learned
// the cap can open more connections than the master serves
// (authWorkerSection in server/dovecot/config.ts). Runs on 2.3 here and on
// 2.4 in the trixie tier.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { ImapFlow } from 'imapflow'
import { startNode } from '../../helpers/node.js'
import { processTree, cmdline } from '../../helpers/procs.js'
import { AUTH_WORKERS } from '../../../server/dovecot/config.js'

const LOGINS = 32
const ACCOUNTS = 8
/** Generous: on two busy cores 30 Argon2id checks take seconds; a hang took 90 s. */
const BOUND_MS = 60_000
/** Longer than IDLE_KILL (10 s), the idle time after which workers used to end. */
const QUIET_MS = 15_000

async function login(port: number, user: string, pass: string): Promise<ImapFlow> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, doSTARTTLS: true, auth: { user, pass }, tls: { rejectUnauthorized: false }, logger: false })
  client.on('error', () => undefined)
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${user}: no login within ${BOUND_MS / 1000} s`)), BOUND_MS)
  })
  try {
    await Promise.race([
      (async () => {
        await client.connect()
        await client.mailboxOpen('INBOX')
      })(),
      bound,
    ])
    return client
  } catch (err) {
    client.close()
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** The node's auth processes: Dovecot's auth process and its workers all run the binary "auth". */
function authProcesses(nodePid: number): number[] {
  return processTree(nodePid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'auth'
    } catch {
      return false
    }
  })
}

/** Logs LOGINS sessions in at once over `accounts` and asserts that every one succeeded; returns them. */
async function loginAll(port: number, accounts: Array<{ address: string; password: string }>, what: string, output: () => string): Promise<ImapFlow[]> {
  const results = await Promise.allSettled(
    Array.from({ length: LOGINS }, (_, i) => {
      const a = accounts[i % accounts.length]!
      return login(port, a.address, a.password)
    }),
  )
  const clients = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []))
  if (failed.length > 0) await Promise.all(clients.map((c) => c.logout().catch(() => undefined)))
  assert.deepEqual(failed, [], `${what}: every login succeeds; node output:\n${output().slice(-3000)}`)
  assert.ok(clients.every((c) => c.usable), `${what}: every session is still open`)
  return clients
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test(`${LOGINS} IMAP logins at once right after the node started, and again after a quiet spell, all succeed, with at most AUTH_WORKERS auth workers`, { timeout: 300_000 }, async () => {
  // The accounts exist before the start, so nothing has used Dovecot's auth
  // process before the phones do.
  const node = await startNode({ start: false })
  let clients: ImapFlow[] = []
  try {
    const accounts: Array<{ address: string; password: string }> = []
    for (let i = 1; i <= ACCOUNTS; i++) accounts.push(await node.addAccount(`phone${i}`))
    await node.restart()

    // The box has just booted and every phone reconnects.
    clients = await loginAll(node.ports.imap, accounts, 'right after the start', () => node.output())
    // The auth process and at most AUTH_WORKERS workers: the cap held.
    const auth = authProcesses(node.pid()!)
    assert.ok(auth.length >= 1 && auth.length <= AUTH_WORKERS + 1, `the auth process and at most ${AUTH_WORKERS} workers: ${auth.map(cmdline).join(' | ')}`)
    await Promise.all(clients.map((c) => c.logout().catch(() => undefined)))
    clients = []

    // The phones drop off (a Wi-Fi gap) and the workers sit idle for longer
    // than the 10 s after which they used to end; on Dovecot 2.4.1 a worker
    // ending that way stranded the logins queued behind it.
    await sleep(QUIET_MS)
    clients = await loginAll(node.ports.imap, accounts, 'after a quiet spell', () => node.output())
  } finally {
    await Promise.all(clients.map((c) => c.logout().catch(() => undefined)))
    await node.destroy()
  }
})
