// DKIM keys for the domains a gateway sends for. Haraka's dkim plugin signs
// with them (config/dkim/<domain>/{private,selector}, rendered from here at
// every start); the admin publishes the TXT record this module prints.
// Chatmail servers refuse mail without a DKIM signature aligned with the
// From: domain, so a gateway needs one key per group domain it sends for.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurable } from '../base/durable.js'
import { DOMAIN } from '../identity/card.js'
import { OutpostError } from '../base/errors.js'

export class DkimError extends OutpostError {
  override name = 'DkimError'
}

export interface DkimKey {
  domain: string
  selector: string
  privatePem: string
}

const SELECTOR = /^[a-z0-9][a-z0-9-]{0,62}$/

/** Keys live in keys/dkim/<domain>/ (private.pem 0600, selector). */
export function dkimDir(keysDir: string, domain: string): string {
  return join(keysDir, 'dkim', domain)
}

/** A selector from the date: a new key gets a new name, so the old TXT record can stay until mail signed with it has arrived. */
export function defaultSelector(now = new Date()): string {
  return `outpost${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`
}

export function loadDkimKey(keysDir: string, domain: string): DkimKey | undefined {
  const dir = dkimDir(keysDir, domain)
  if (!existsSync(join(dir, 'private.pem'))) return undefined
  return { domain, selector: readFileSync(join(dir, 'selector'), 'utf8').trim(), privatePem: readFileSync(join(dir, 'private.pem'), 'utf8') }
}

export function listDkimKeys(keysDir: string): DkimKey[] {
  let names: string[]
  try {
    names = readdirSync(join(keysDir, 'dkim'))
  } catch {
    return []
  }
  return names.sort().flatMap((d) => {
    const k = loadDkimKey(keysDir, d)
    return k ? [k] : []
  })
}

/**
 * Makes a 2048-bit RSA key for `domain` (RSA because every verifier knows
 * it; Ed25519 DKIM, RFC 8463, is not checked everywhere yet). An existing
 * key is kept unless `rotate` is given.
 */
export function ensureDkimKey(keysDir: string, domain: string, opts: { selector?: string; rotate?: boolean } = {}): { key: DkimKey; created: boolean } {
  const d = domain.trim().toLowerCase()
  if (!DOMAIN.test(d)) throw new DkimError(`"${domain}" is not a domain name`)
  const existing = loadDkimKey(keysDir, d)
  if (existing && !opts.rotate && (!opts.selector || opts.selector === existing.selector)) return { key: existing, created: false }
  const selector = opts.selector ?? defaultSelector()
  if (!SELECTOR.test(selector)) throw new DkimError(`selector "${selector}" must be lower-case letters, digits and -, at most 63 characters`)
  if (existing && existing.selector === selector) throw new DkimError(`a new key needs a new selector (the current one is "${selector}"), so that mail signed with the old key still verifies`)
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const dir = dkimDir(keysDir, d)
  writeFileDurable(join(dir, 'private.pem'), privatePem, 0o600)
  writeFileDurable(join(dir, 'selector'), `${selector}\n`, 0o644)
  return { key: { domain: d, selector, privatePem }, created: true }
}

/** The public key as DKIM's p= value (base64 of the SubjectPublicKeyInfo DER). */
export function dkimPublicB64(privatePem: string): string {
  return createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'der' }).toString('base64')
}

/** The TXT record's value, as one string. */
export function dkimTxtValue(key: DkimKey): string {
  return `v=DKIM1; k=rsa; p=${dkimPublicB64(key.privatePem)}`
}

/**
 * The record in zone-file form. A TXT string holds at most 255 bytes, so
 * the value is cut into several quoted strings, which resolvers join.
 */
export function dkimDnsRecord(key: DkimKey): string {
  const value = dkimTxtValue(key)
  const parts: string[] = []
  for (let i = 0; i < value.length; i += 250) parts.push(`"${value.slice(i, i + 250)}"`)
  return `${key.selector}._domainkey.${key.domain}. IN TXT ( ${parts.join(' ')} )`
}
