// Secrets at rest (the smarthost password): AES-256-GCM with a random key
// in keys/secrets.key (0600). The sealed value can sit in the database, in
// a backup of it or in a web response's log without giving the password
// away; only a process that can read keys/ (the node, its Haraka) opens it.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurable } from '../base/durable.js'
import { OutpostError } from '../base/errors.js'

const VERSION = 'v1'
const KEY_BYTES = 32
const IV_BYTES = 12

export class SecretError extends OutpostError {
  override name = 'SecretError'
}

export function secretsKeyPath(keysDir: string): string {
  return join(keysDir, 'secrets.key')
}

/** The key, made on first use. */
export function secretsKey(keysDir: string, opts: { create?: boolean } = {}): Buffer {
  const path = secretsKeyPath(keysDir)
  if (!existsSync(path)) {
    if (!opts.create) throw new SecretError(`${path} is missing, so the stored secret cannot be opened; set the secret again (\`outpost uplink smarthost set …\`)`)
    writeFileDurable(path, randomBytes(KEY_BYTES).toString('base64') + '\n', 0o600)
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64')
  if (key.length !== KEY_BYTES) throw new SecretError(`${path} does not hold a ${KEY_BYTES}-byte key; remove it and set the secret again`)
  return key
}

/** `v1.<iv>.<tag>.<ciphertext>` in base64url; `label` is bound in as associated data, so a sealed value cannot be moved to another setting. */
export function sealSecret(key: Buffer, label: string, plain: string): string {
  const iv = randomBytes(IV_BYTES)
  const c = createCipheriv('aes-256-gcm', key, iv)
  c.setAAD(Buffer.from(label))
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()])
  return [VERSION, iv.toString('base64url'), c.getAuthTag().toString('base64url'), body.toString('base64url')].join('.')
}

export function openSecret(key: Buffer, label: string, sealed: string): string {
  const [v, iv, tag, body] = sealed.split('.')
  if (v !== VERSION || !iv || !tag || body === undefined) throw new SecretError(`the stored ${label} is not a sealed secret of this version; set it again`)
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
    d.setAAD(Buffer.from(label))
    d.setAuthTag(Buffer.from(tag, 'base64url'))
    return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8')
  } catch {
    throw new SecretError(`the stored ${label} cannot be opened with keys/secrets.key (the key was replaced?); set it again`)
  }
}
