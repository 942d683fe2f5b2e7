// Account passwords: Argon2id with OWASP's minimum parameters (19 MiB, t=2,
// p=1), stored in the form Dovecot's ARGON2ID scheme reads, so that Dovecot
// (IMAP) and our Haraka plugin (SMTP AUTH) check the same hash.
// hash-wasm is loaded on first use: `outpost start` itself never hashes a
// password, and the module costs about 10 MB of memory.
const wasm = () => import('hash-wasm')
import { randomBytes } from 'node:crypto'

const PREFIX = '{ARGON2ID}'
/** The web admin's password: the setup file and the web admin both ask for at least this many characters. */
export const MIN_ADMIN_PASSWORD = 10
export const ARGON2_PARAMS = { memorySize: 19456, iterations: 2, parallelism: 1, hashLength: 32 } as const

export async function hashPassword(password: string): Promise<string> {
  const { argon2id } = await wasm()
  const encoded = await argon2id({ password, salt: randomBytes(16), ...ARGON2_PARAMS, outputType: 'encoded' })
  return PREFIX + encoded
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (!stored.startsWith(PREFIX)) return false
  try {
    const { argon2Verify } = await wasm()
    return await argon2Verify({ password, hash: stored.slice(PREFIX.length) })
  } catch {
    return false
  }
}

/** A random password strong enough for an account that nobody types: 24 characters from a 56-letter alphabet. */
export function randomPassword(length = 24): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
  const bytes = randomBytes(length * 2)
  let out = ''
  for (const b of bytes) {
    if (b >= 224) continue // 224 = 4 × 56: reject to keep the choice uniform
    out += alphabet[b % 56]
    if (out.length === length) break
  }
  return out.length === length ? out : randomPassword(length)
}
