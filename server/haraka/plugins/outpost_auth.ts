// SMTP AUTH against the node's accounts (the same Argon2id hashes Dovecot
// checks). auth/auth_base does the protocol (PLAIN and LOGIN exchanges,
// connection.relaying on success, a growing delay after each failure); we
// offer AUTH only on a TLS connection and check the password. Unlike
// Haraka's auth/flat_file nothing here exempts localhost or private
// addresses: on a LAN box every phone is a private address.
import constants from 'haraka-constants'
import { eq } from 'drizzle-orm'
import { AccountService } from '../../accounts/service.js'
import { normaliseAddress } from '../../accounts/address.js'
import { accounts } from '../../db/schema.js'
import type { Connection, HarakaPlugin, Next } from '../lib/haraka-api.js'
import { guardHook } from '../lib/guard.js'
import { LoginCache } from '../lib/login-cache.js'
import { nodeDb } from '../lib/node-db.js'
import { attachToSupervisor } from '../lib/lifecycle.js'
import { watchSettings } from '../lib/plugin-settings.js'
import type { OutpostSettings } from '../lib/settings.js'

let settings: () => OutpostSettings
const logins = new LoginCache()

export function register(this: HarakaPlugin): void {
  settings = watchSettings(this)
  attachToSupervisor(settings().pidFile)
  this.inherits('auth/auth_base')
  // auth_base keeps the password in connection.notes.auth_passwd unless told not to; nothing of ours needs it.
  ;(this as { blankout_password?: boolean }).blankout_password = true
  // Before auth_base's own unrecognized_command hook, which would answer a plain-text AUTH with "500 Unrecognized command".
  this.register_hook('unrecognized_command', 'refuse_auth_without_tls', -100)
}

/** auth_base never offers AUTH without TLS; a client that tries anyway gets the RFC 4954 answer. */
export const refuse_auth_without_tls = guardHook('refuse_auth_without_tls', function (this: HarakaPlugin, next: Next, connection: Connection, params: string[]) {
  if (connection.tls.enabled || String(params?.[0] ?? '').toUpperCase() !== 'AUTH') return next()
  connection.respond(538, '5.7.11 Encryption required: use STARTTLS (or the implicit-TLS port) before AUTH', () => next(constants.ok))
})

async function verify(user: string, password: string): Promise<boolean> {
  const s = settings()
  const db = nodeDb(s.db)
  const address = normaliseAddress(user)
  const row = db.select({ hash: accounts.passwordHash }).from(accounts).where(eq(accounts.address, address)).get()
  const key = row ? LoginCache.key(address, password, row.hash) : null
  if (key && logins.has(key)) return true
  const ok = await new AccountService(db, s.domains).verify(address, password)
  if (ok && key) logins.add(key)
  return ok
}

type PasswdResult = (valid: boolean, opts?: { code: number; message: string }) => void

/** Called by auth_base for PLAIN and LOGIN. It must answer through cb on every path. */
export function check_plain_passwd(this: HarakaPlugin, connection: Connection, user: string, password: string, cb: PasswdResult): void {
  let p: Promise<boolean>
  try {
    p = verify(user, password)
  } catch (err) {
    p = Promise.reject(err)
  }
  p.then(
    (ok) => cb(ok),
    (err: unknown) => {
      this.logerror(connection, `checking the password of ${JSON.stringify(user)} failed:`, err)
      // 454: the client should try again later rather than think the password is wrong.
      cb(false, { code: 454, message: '4.7.0 Temporary authentication failure; please try again later' })
    },
  )
}

/**
 * Replaces auth_base's method of the same name (Haraka registers it by that
 * name, so the override has to keep it). auth_base offers CRAM-MD5 too,
 * which needs the plain password; we store only Argon2id hashes.
 */
export const hook_capabilities = guardHook('hook_capabilities', function (this: HarakaPlugin, next: Next, connection: Connection & { capabilities: string[] }) {
  if (!connection.tls.enabled) return next()
  connection.capabilities.push('AUTH PLAIN LOGIN')
  connection.notes.allowed_auth_methods = ['PLAIN', 'LOGIN']
  next()
})
