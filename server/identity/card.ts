// A node's card: what another node needs to exchange mail with it (its
// name, the domains it serves, its public keys, where it can be reached),
// in one line of text that fits a QR code:
//
//   outpost-card:<base64url(JSON)>.<base64url(Ed25519 signature of those JSON bytes)>
//
// The signature is made with the key named in the card's own `sign` field,
// so a card that was mistyped, truncated or edited on the way is refused.
// It does NOT make a card trustworthy: anyone can make a self-signed card.
// Trust comes from how the card reached you (a QR code scanned from the
// other box in person, a file handed over on a stick you know), which is
// why `outpost card` shows key fingerprints to compare.
import { isNodeName } from './name.js'
import { createHash, sign as signBytes, verify as verifyBytes, type KeyObject } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { yggdrasilAddress } from '../base/yggdrasil.js'
import type { NodeConfig } from '../config/schema.js'
import { signPublicFromB64, type NodeIdentity } from './keys.js'
import { TLS_PIN } from '../tls/pin.js'
import { OutpostError } from '../base/errors.js'

export class CardError extends OutpostError {
  override name = 'CardError'
}

export interface Reach {
  /** How to get there, e.g. `https`; transports pick the kinds they know. */
  kind: string
  address: string
  /**
   * The pin (SHA256:… of the public key, server/tls/pin.ts) of the TLS key
   * the node's web server answers with, wherever it is found: at this
   * address or at one a LAN announcement (mDNS) names. Cards made before it
   * existed have none, and are still read.
   */
  tls?: string
}

export interface Card {
  v: 1
  name: string
  domains: string[]
  /** Ed25519 public key, raw 32 bytes as base64url. */
  sign: string
  /** age X25519 recipient, age1… */
  age: string
  reach: Reach[]
}

export const CARD_PREFIX = 'outpost-card:'

// Letters and digits of any script, with space . _ - inside: printable in a
// terminal and a log line, and safe as a command-line argument once quoted.
export const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
const AGE_RECIPIENT = /^age1[023456789acdefghjklmnpqrstuvwxyz]{58}$/
const KIND = /^[a-z][a-z0-9+.-]{0,31}$/
const B64URL = /^[A-Za-z0-9_-]+$/

/**
 * Where peers reach this node: its web port on node.host (IPv6 literals in
 * brackets), answering with the TLS key of `tlsPin`; then, when the box is
 * on Yggdrasil and its web server answers there (listen.address is `::` or
 * that very address), at its Yggdrasil address, which a peer anywhere on
 * the mesh can reach. A peer tries them in this order.
 */
export function reachFromConfig(config: NodeConfig, tlsPin?: string, yggdrasil: string | undefined = yggdrasilAddress()): Reach[] {
  const at = (host: string): Reach => ({ kind: 'https', address: `https://${host.includes(':') ? `[${host}]` : host}:${config.ports.web}`, ...(tlsPin ? { tls: tlsPin } : {}) })
  const reach = [at(config.node.host)]
  const served = config.listen.address === '::' || config.listen.address === yggdrasil
  if (yggdrasil && served && yggdrasil !== config.node.host) reach.push(at(yggdrasil))
  return reach
}

export function makeCard(node: { config: NodeConfig; identity: Pick<NodeIdentity, 'signPublicB64' | 'ageRecipient'>; tlsPin?: string }): Card {
  const card: Card = {
    v: 1,
    name: node.config.node.name,
    domains: [node.config.node.domain],
    sign: node.identity.signPublicB64,
    age: node.identity.ageRecipient,
    reach: reachFromConfig(node.config, node.tlsPin),
  }
  // Our own card must pass the checks a peer will make, or it would only
  // fail on the other box.
  try {
    return checkCard(card)
  } catch (err) {
    if (err instanceof CardError && /name/.test(err.message)) throw new CardError(`${err.message}; change node.name in outpost.toml`)
    throw err
  }
}

/** The one-line text form, signed with the node's own key. */
export function cardText(card: Card, signKey: KeyObject): string {
  // Fixed key order, so the same card always gives the same text.
  const json = Buffer.from(JSON.stringify({ v: card.v, name: card.name, domains: card.domains, sign: card.sign, age: card.age, reach: card.reach.map((r) => ({ kind: r.kind, address: r.address, ...(r.tls ? { tls: r.tls } : {}) })) }))
  const sig = signBytes(null, json, signKey)
  if (!verifyBytes(null, json, signPublicFromB64(card.sign), sig)) throw new CardError(`the card names signing key ${card.sign}, but was signed with another key`)
  return `${CARD_PREFIX}${json.toString('base64url')}.${sig.toString('base64url')}`
}

function fieldError(field: string, expected: string, got: unknown): CardError {
  return new CardError(`bad card: field "${field}" must be ${expected}, not ${JSON.stringify(got)}`)
}

/** Validates a decoded card's fields; returns a clean copy with only the known fields. */
export function checkCard(c: unknown): Card {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new CardError('bad card: it does not hold a JSON object')
  const o = c as Record<string, unknown>
  if (o.v !== 1) {
    if (typeof o.v === 'number') throw new CardError(`this is a version ${o.v} card; this Outpost reads version 1 only. Update Outpost on this node.`)
    throw fieldError('v', 'the number 1', o.v)
  }
  // The name becomes stick folder and bundle file names, so it follows the bundle format's rule.
  if (!isNodeName(o.name)) throw fieldError('name', 'a node name of lower-case letters and digits, parts joined by . or - (at most 63)', o.name)
  if (!Array.isArray(o.domains) || o.domains.length === 0) throw fieldError('domains', 'a non-empty list of domains', o.domains)
  for (const d of o.domains) if (typeof d !== 'string' || !DOMAIN.test(d)) throw fieldError('domains', 'a list of lower-case domain names', d)
  if (new Set(o.domains).size !== o.domains.length) throw fieldError('domains', 'a list without repeats', o.domains)
  if (typeof o.sign !== 'string') throw fieldError('sign', 'an Ed25519 public key (base64url)', o.sign)
  try {
    signPublicFromB64(o.sign)
  } catch {
    throw fieldError('sign', 'an Ed25519 public key (32 bytes, base64url)', o.sign)
  }
  if (typeof o.age !== 'string' || !AGE_RECIPIENT.test(o.age)) throw fieldError('age', 'an age X25519 recipient (age1…)', o.age)
  if (!Array.isArray(o.reach)) throw fieldError('reach', 'a list of {kind, address}', o.reach)
  const reach: Reach[] = []
  for (const r of o.reach as unknown[]) {
    const ro = r as Record<string, unknown>
    if (typeof r !== 'object' || r === null || typeof ro.kind !== 'string' || typeof ro.address !== 'string') throw fieldError('reach', 'a list of {kind, address} with string values', r)
    if (!KIND.test(ro.kind)) throw fieldError('reach.kind', 'a short lower-case word such as "https"', ro.kind)
    // eslint-disable-next-line no-control-regex -- control characters are what this refuses
    if (ro.address.length === 0 || ro.address.length > 512 || /[\u0000-\u001f\u007f\s]/.test(ro.address)) throw fieldError('reach.address', 'an address without spaces, up to 512 characters', ro.address)
    if (ro.tls !== undefined && (typeof ro.tls !== 'string' || !TLS_PIN.test(ro.tls))) throw fieldError('reach.tls', 'a TLS key pin SHA256:… (43 base64 characters)', ro.tls)
    reach.push({ kind: ro.kind, address: ro.address, ...(ro.tls ? { tls: ro.tls as string } : {}) })
  }
  return { v: 1, name: o.name, domains: [...(o.domains as string[])], sign: o.sign, age: o.age, reach }
}

/** Reads the text form; throws CardError saying what is wrong with it. */
export function parseCard(text: string): Card {
  // A card copied out of a terminal or a mail may be wrapped: base64url
  // has no whitespace of its own, so any found is from the wrapping.
  const t = text.replace(/\s+/g, '')
  if (!t.toLowerCase().startsWith(CARD_PREFIX)) throw new CardError(`not an Outpost card: a card starts with "${CARD_PREFIX}" (get one with \`outpost card --text\` on the other node)`)
  const parts = t.slice(CARD_PREFIX.length).split('.')
  if (parts.length !== 2 || !B64URL.test(parts[0]!) || !B64URL.test(parts[1]!)) throw new CardError('damaged card: expected outpost-card:DATA.SIGNATURE in base64url; was it cut short when copied?')
  const json = Buffer.from(parts[0]!, 'base64url')
  const sig = Buffer.from(parts[1]!, 'base64url')
  let doc: unknown
  try {
    doc = JSON.parse(json.toString('utf8'))
  } catch {
    throw new CardError('damaged card: its data is not JSON; was it cut short when copied?')
  }
  const card = checkCard(doc)
  if (sig.length !== 64 || !verifyBytes(null, json, signPublicFromB64(card.sign), sig)) {
    throw new CardError(`bad signature: card "${card.name}" was not signed by the key it names, so it was altered or damaged on the way; ask for a fresh card`)
  }
  return card
}

const CARD_IN_TEXT = /outpost-card:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/i

/**
 * A card given on the command line: the text itself, or a file holding it
 * (on a line of its own, so the saved output of `outpost card` works too).
 */
export function readCard(arg: string): Card {
  if (arg.trim().toLowerCase().startsWith(CARD_PREFIX)) return parseCard(arg)
  if (!existsSync(arg)) throw new CardError(`"${arg.length > 60 ? `${arg.slice(0, 60)}…` : arg}" is neither a card (outpost-card:…) nor a file`)
  if (!statSync(arg).isFile()) throw new CardError(`${arg} is not a file`)
  const m = CARD_IN_TEXT.exec(readFileSync(arg, 'utf8'))
  if (!m) throw new CardError(`${arg} holds no card (a line starting with ${CARD_PREFIX})`)
  try {
    return parseCard(m[0])
  } catch (err) {
    if (err instanceof CardError) throw new CardError(`${arg}: ${err.message}`)
    throw err
  }
}

/** SHA256:… of the raw Ed25519 key, in the style of ssh fingerprints, for people to compare. */
export function signFingerprint(signB64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(signB64, 'base64url')).digest('base64').replace(/=+$/, '')}`
}

/** SHA256:… of the age recipient string: a shorter thing to compare than the recipient itself. */
export function ageFingerprint(recipient: string): string {
  return `SHA256:${createHash('sha256').update(recipient).digest('base64').replace(/=+$/, '')}`
}
