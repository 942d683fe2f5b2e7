// The node's long-term identity: an Ed25519 key that signs what the node
// sends (bundles, its card) and an age X25519 identity that peers encrypt
// bundles to. Both live in <data>/keys/ and never leave it: peers learn the
// public halves from the node's card. Losing these files means every peer
// must be given a new card, so they belong in the node's backups.
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { fsyncDir, writeFileDurable } from '../base/durable.js'
import type { NodePaths } from '../base/paths.js'
import { OutpostError } from '../base/errors.js'

export class IdentityError extends OutpostError {
  override name = 'IdentityError'
}

export interface NodeIdentity {
  signPrivate: KeyObject
  signPublic: KeyObject
  /** The raw 32-byte Ed25519 public key, base64url: the form cards carry. */
  signPublicB64: string
  /** AGE-SECRET-KEY-1… */
  ageIdentity: string
  /** age1… */
  ageRecipient: string
}

const AGE_IDENTITY = /^AGE-SECRET-KEY-1[023456789ACDEFGHJKLMNPQRSTUVWXYZ]{58}$/
const AGE_RECIPIENT = /^age1[023456789acdefghjklmnpqrstuvwxyz]{58}$/

/** The raw 32-byte Ed25519 public key as base64url (JWK's `x` is exactly that). */
export function rawSignPublicB64(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' })
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new IdentityError('not an Ed25519 key')
  return jwk.x
}

/** The inverse of rawSignPublicB64: a verifying key from a card's or peer's `sign` field. */
export function signPublicFromB64(b64: string): KeyObject {
  if (!/^[A-Za-z0-9_-]{43}$/.test(b64) || Buffer.from(b64, 'base64url').length !== 32) throw new IdentityError(`"${b64}" is not an Ed25519 public key (32 bytes, base64url)`)
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64 }, format: 'jwk' })
}

function readSecret(path: string, what: string): string {
  let st
  try {
    st = statSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new IdentityError(`${path} is missing: this node has no ${what} yet. Any \`outpost\` command that needs it (e.g. \`outpost card\`) creates one.`)
    }
    throw err
  }
  // Like ssh, refuse a private key others can read: it may have been copied
  // already, and the fix is one command.
  if ((st.mode & 0o077) !== 0) throw new IdentityError(`${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``)
  return readFileSync(path, 'utf8').trim()
}

/** Reads the node's keys; throws IdentityError naming the file when one is missing or unusable. */
export function loadIdentity(paths: NodePaths): NodeIdentity {
  const pem = readSecret(paths.signKey, 'signing key')
  let signPrivate: KeyObject
  try {
    signPrivate = createPrivateKey({ key: pem, format: 'pem' })
  } catch (err) {
    throw new IdentityError(`${paths.signKey} is not a readable private key (${(err as Error).message}); restore it from a backup`)
  }
  if (signPrivate.asymmetricKeyType !== 'ed25519') throw new IdentityError(`${paths.signKey} holds a ${signPrivate.asymmetricKeyType} key, not Ed25519; restore it from a backup`)
  const signPublic = createPublicKey(signPrivate)
  const ageIdentity = readSecret(paths.ageKey, 'age identity')
  if (!AGE_IDENTITY.test(ageIdentity)) throw new IdentityError(`${paths.ageKey} does not hold an age X25519 identity (AGE-SECRET-KEY-1…); restore it from a backup`)
  let ageRecipient: string
  try {
    ageRecipient = readFileSync(paths.ageRecipient, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new IdentityError(`${paths.ageRecipient} is missing; any \`outpost\` command that needs it (e.g. \`outpost card\`) derives it again from ${paths.ageKey}`)
    throw err
  }
  if (!AGE_RECIPIENT.test(ageRecipient)) throw new IdentityError(`${paths.ageRecipient} does not hold an age recipient (age1…); delete it and run \`outpost card\` to derive it again`)
  return { signPrivate, signPublic, signPublicB64: rawSignPublicB64(signPublic), ageIdentity, ageRecipient }
}

/**
 * Puts a new file in place only if none is there yet. Two processes that
 * both find a node without keys (say `outpost card` beside `outpost start`)
 * must not each write their own: the second would silently replace a key
 * the first may already have handed out. So the file is written durably
 * under a private name and then hard-linked into place, which fails when
 * the name is taken; the loser then reads the winner's key.
 */
function createOnce(path: string, data: string): void {
  const dir = dirname(path)
  const staged = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.new`)
  writeFileDurable(staged, data, 0o600)
  try {
    linkSync(staged, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(staged)
  }
  fsyncDir(dir)
}

/**
 * Loads the node's keys, creating whichever are missing: at `init`, and
 * for nodes initialised before nodes had keys. A key that exists is never
 * replaced.
 */
export async function ensureIdentity(paths: NodePaths): Promise<NodeIdentity> {
  mkdirSync(paths.keysDir, { recursive: true, mode: 0o700 })
  // mkdir's mode is filtered by the umask and ignored for an existing dir.
  chmodSync(paths.keysDir, 0o700)
  if (!existsSync(paths.signKey)) {
    const { privateKey } = generateKeyPairSync('ed25519')
    createOnce(paths.signKey, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string)
  }
  // generateX25519Identity rather than generateIdentity: the latter may
  // switch to post-quantum hybrid keys, which peers' cards must then agree on.
  if (!existsSync(paths.ageKey)) createOnce(paths.ageKey, `${await (await import('age-encryption')).generateX25519Identity()}\n`)
  if (!existsSync(paths.ageRecipient)) {
    const { identityToRecipient } = await import('age-encryption')
    const identity = readSecret(paths.ageKey, 'age identity')
    if (!AGE_IDENTITY.test(identity)) throw new IdentityError(`${paths.ageKey} does not hold an age X25519 identity (AGE-SECRET-KEY-1…); restore it from a backup`)
    createOnce(paths.ageRecipient, `${await identityToRecipient(identity)}\n`)
  }
  return loadIdentity(paths)
}
