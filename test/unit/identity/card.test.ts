// Cards: the one line a node hands to another. It must survive the trip
// intact, and anything altered or malformed must be refused with a reason.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sign } from 'node:crypto'
import { nodePaths } from '../../../server/base/paths.js'
import { defaults } from '../../../server/config/schema.js'
import { ensureIdentity, type NodeIdentity } from '../../../server/identity/keys.js'
import { CARD_PREFIX, cardText, makeCard, parseCard, reachFromConfig, readCard, signFingerprint, type Card } from '../../../server/identity/card.js'

let dir: string
let id: NodeIdentity
let other: NodeIdentity

function config(host = '10.42.0.1') {
  const c = defaults('camp.test', { root: true })
  c.node.host = host
  return c
}

/** A card text with arbitrary JSON, correctly signed by `id`: only the content is wrong. */
function signedText(doc: unknown): string {
  const json = Buffer.from(JSON.stringify(doc))
  return `${CARD_PREFIX}${json.toString('base64url')}.${sign(null, json, id.signPrivate).toString('base64url')}`
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'op-card-'))
  id = await ensureIdentity(nodePaths(join(dir, 'a')))
  other = await ensureIdentity(nodePaths(join(dir, 'b')))
})
after(() => rmSync(dir, { recursive: true, force: true }))

test('a card carries name, domains, keys and reach from the config, and its text form round-trips', () => {
  const card = makeCard({ config: config(), identity: id })
  assert.deepEqual(card, {
    v: 1,
    name: 'camp',
    domains: ['camp.test'],
    sign: id.signPublicB64,
    age: id.ageRecipient,
    reach: [{ kind: 'https', address: 'https://10.42.0.1:443' }],
  })
  const text = cardText(card, id.signPrivate)
  assert.match(text, /^outpost-card:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
  assert.deepEqual(parseCard(text), card)
  // The same card always gives the same line.
  assert.equal(cardText(card, id.signPrivate), text)
  // Wrapped or surrounded by whitespace, as when copied from a terminal.
  assert.deepEqual(parseCard(`  ${text.slice(0, 50)}\n${text.slice(50)}\n`), card)
  assert.equal(makeCard({ config: config('fd00::1'), identity: id }).reach[0]!.address, 'https://[fd00::1]:443')
})

test('a card is read from the command line or from a file holding it (even amid other output)', () => {
  const card = makeCard({ config: config(), identity: id })
  const text = cardText(card, id.signPrivate)
  assert.deepEqual(readCard(text), card)
  const file = join(dir, 'camp.card')
  writeFileSync(file, `some QR art\n${text}\n\nnode camp\n`)
  assert.deepEqual(readCard(file), card)
  writeFileSync(file, 'nothing here\n')
  assert.throws(() => readCard(file), { name: 'CardError', message: /holds no card/ })
  assert.throws(() => readCard(join(dir, 'missing')), { name: 'CardError', message: /neither a card .* nor a file/ })
})

test('a card cannot be signed with a key other than the one it names', () => {
  const card = makeCard({ config: config(), identity: id })
  assert.throws(() => cardText(card, other.signPrivate), { name: 'CardError', message: /signed with another key/ })
})

test('an altered or damaged card is refused', () => {
  const card = makeCard({ config: config(), identity: id })
  const text = cardText(card, id.signPrivate)
  const [data, sig] = text.slice(CARD_PREFIX.length).split('.') as [string, string]
  // Someone swaps in their own age key (to read the mail) but keeps the signature.
  const forged: Card = { ...card, age: other.ageRecipient }
  const forgedData = Buffer.from(JSON.stringify(forged)).toString('base64url')
  assert.throws(() => parseCard(`${CARD_PREFIX}${forgedData}.${sig}`), { name: 'CardError', message: /bad signature/ })
  // Someone swaps in their own signing key too, keeping the old signature.
  const forged2 = Buffer.from(JSON.stringify({ ...forged, sign: other.signPublicB64 })).toString('base64url')
  assert.throws(() => parseCard(`${CARD_PREFIX}${forged2}.${sig}`), /bad signature/)
  // One flipped character in the signature.
  const flipped = sig[5] === 'A' ? 'B' : 'A'
  assert.throws(() => parseCard(`${CARD_PREFIX}${data}.${sig.slice(0, 5)}${flipped}${sig.slice(6)}`), /bad signature/)
  // Cut short when copied.
  assert.throws(() => parseCard(text.slice(0, 100)), /damaged card/)
  assert.throws(() => parseCard(`${CARD_PREFIX}${data.slice(0, -4)}.${sig}`), /damaged card|bad signature/)
  assert.throws(() => parseCard('dclogin:alice@camp.test?p=x'), { name: 'CardError', message: /not an Outpost card/ })
  assert.throws(() => parseCard(`${CARD_PREFIX}${data}`), /damaged card/)
})

test('fields of the wrong type or form are refused, naming the field', () => {
  const good = makeCard({ config: config(), identity: id })
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...good, v: 2 }, /version 2 card/],
    [{ ...good, v: '1' }, /field "v"/],
    [{ ...good, name: 42 }, /field "name"/],
    [{ ...good, name: '' }, /field "name"/],
    [{ ...good, name: 'a\u0007b' }, /field "name"/],
    [{ ...good, domains: 'camp.test' }, /field "domains"/],
    [{ ...good, domains: [] }, /field "domains"/],
    [{ ...good, domains: ['Camp.Test'] }, /field "domains"/],
    [{ ...good, domains: [7] }, /field "domains"/],
    [{ ...good, domains: ['camp.test', 'camp.test'] }, /without repeats/],
    [{ ...good, age: 'age1nope' }, /field "age"/],
    [{ ...good, age: null }, /field "age"/],
    [{ ...good, reach: {} }, /field "reach"/],
    [{ ...good, reach: [{ kind: 'https', address: 443 }] }, /field "reach"/],
    [{ ...good, reach: [{ kind: 'HTTPS!', address: 'x' }] }, /field "reach\.kind"/],
    [{ ...good, reach: [{ kind: 'https', address: 'a b' }] }, /field "reach\.address"/],
  ]
  for (const [doc, re] of cases) assert.throws(() => parseCard(signedText(doc)), (err: Error) => err.name === 'CardError' && re.test(err.message), JSON.stringify(doc))
  assert.throws(() => parseCard(signedText([1, 2])), /JSON object/)
  // A malformed signing key is a field error, checked before any signature.
  const badSign = Buffer.from(JSON.stringify({ ...good, sign: 'abc' })).toString('base64url')
  assert.throws(() => parseCard(`${CARD_PREFIX}${badSign}.AAAA`), /field "sign"/)
  // A node whose name a card cannot carry learns so from `outpost card`, with the fix.
  const c = config()
  c.node.name = 'camp/../x'
  assert.throws(() => makeCard({ config: c, identity: id }), /node\.name in outpost\.toml/)
})

test('fingerprints are stable and differ between keys', () => {
  assert.match(signFingerprint(id.signPublicB64), /^SHA256:[A-Za-z0-9+/]{43}$/)
  assert.equal(signFingerprint(id.signPublicB64), signFingerprint(id.signPublicB64))
  assert.notEqual(signFingerprint(id.signPublicB64), signFingerprint(other.signPublicB64))
})

test("a card may pin its web server's TLS key; cards without a pin are still read, a malformed pin is refused", () => {
  const pin = `SHA256:${'b'.repeat(43)}`
  const card = makeCard({ config: config(), identity: id, tlsPin: pin })
  assert.deepEqual(card.reach, [{ kind: 'https', address: 'https://10.42.0.1:443', tls: pin }])
  assert.deepEqual(parseCard(cardText(card, id.signPrivate)), card)
  const base = { v: 1, name: 'camp', domains: ['camp.test'], sign: id.signPublicB64, age: id.ageRecipient }
  assert.deepEqual(parseCard(signedText({ ...base, reach: [{ kind: 'https', address: 'https://10.42.0.1:443' }] })).reach, [{ kind: 'https', address: 'https://10.42.0.1:443' }])
  assert.throws(() => parseCard(signedText({ ...base, reach: [{ kind: 'https', address: 'https://10.42.0.1:443', tls: 'md5:abc' }] })), /field "reach\.tls" must be a TLS key pin/)
})

test('on Yggdrasil, a card also names the Yggdrasil address, after the LAN one, only where the web server answers there', () => {
  const ygg = '201:6c3a:1b2c::7'
  const c = config()
  c.listen.address = '::'
  assert.deepEqual(reachFromConfig(c, undefined, ygg).map((r) => r.address), ['https://10.42.0.1:443', `https://[${ygg}]:443`])
  c.listen.address = ygg
  assert.deepEqual(reachFromConfig(c, undefined, ygg).map((r) => r.address), ['https://10.42.0.1:443', `https://[${ygg}]:443`])
  // IPv4 only: the Yggdrasil address would lead nowhere.
  c.listen.address = '0.0.0.0'
  assert.deepEqual(reachFromConfig(c, undefined, ygg).map((r) => r.address), ['https://10.42.0.1:443'])
  // Not on Yggdrasil, or its address is already the card's host: one entry.
  c.listen.address = '::'
  assert.deepEqual(reachFromConfig(c, undefined, undefined).map((r) => r.address), ['https://10.42.0.1:443'])
  c.node.host = ygg
  assert.deepEqual(reachFromConfig(c, 'SHA256:x', ygg), [{ kind: 'https', address: `https://[${ygg}]:443`, tls: 'SHA256:x' }])
})
