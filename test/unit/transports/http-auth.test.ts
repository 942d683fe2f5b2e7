// Signed requests between nodes: what a receiver accepts and what it refuses.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { bodyDigest, checkHeaders, ReplayCache, REPLAY_WINDOW_MS, signRequest, verifyDigest, type AuthRefusal, DATE_HEADER, NODE_HEADER, SIGNATURE_HEADER } from '../../../server/transports/http-auth.js'

const camp = generateKeyPairSync('ed25519')
const stranger = generateKeyPairSync('ed25519')
const known: Record<string, KeyObject> = { camp: camp.publicKey }
const keyFor = (peer: string) => known[peer]
const body = Buffer.from('a sealed bundle, as bytes')
const NOW = 1_750_000_000_000

/** As the /bundles route checks a request: the headers before the body is read, then the signature over the received body's digest. */
function verifyRequest(headers: Record<string, string>, received: Buffer, keys: typeof keyFor, replay: ReplayCache, now: number): { ok: true; peer: string } | AuthRefusal {
  const h = checkHeaders(headers, keys, now)
  return h.ok ? verifyDigest(h, bodyDigest(received), replay, now) : h
}

test('a request signed with the peer key is accepted once; the same request again is a replay', () => {
  const replay = new ReplayCache()
  const headers = signRequest({ node: 'camp', key: camp.privateKey, body, now: NOW })
  assert.deepEqual(verifyRequest(headers, body, keyFor, replay, NOW + 1000), { ok: true, peer: 'camp' })
  const again = verifyRequest(headers, body, keyFor, replay, NOW + 2000)
  assert.equal(again.ok, false)
  assert.match(!again.ok ? again.reason : '', /replay/)
  // A fresh signature over the same bundle (a resend) is fine.
  assert.equal(verifyRequest(signRequest({ node: 'camp', key: camp.privateKey, body, now: NOW + 5 }), body, keyFor, replay, NOW + 3000).ok, true)
})

test('a body changed on the way is refused', () => {
  const headers = signRequest({ node: 'camp', key: camp.privateKey, body, now: NOW })
  const r = verifyRequest(headers, Buffer.from('a sealed bundle, as bytez'), keyFor, new ReplayCache(), NOW)
  assert.equal(r.ok, false)
  assert.match(!r.ok ? r.reason : '', /bad signature/)
})

test('a request signed with another key under a known name is refused', () => {
  const headers = signRequest({ node: 'camp', key: stranger.privateKey, body, now: NOW })
  const r = verifyRequest(headers, body, keyFor, new ReplayCache(), NOW)
  assert.equal(r.ok, false)
  assert.equal(!r.ok && r.status, 401)
  assert.match(!r.ok ? r.reason : '', /bad signature.*"camp"/)
})

test('an unknown node is refused before its body is looked at', () => {
  const headers = signRequest({ node: 'nowhere', key: stranger.privateKey, body, now: NOW })
  const r = checkHeaders(headers, keyFor, NOW)
  assert.equal(r.ok, false)
  assert.match(!r.ok ? r.reason : '', /"nowhere" is not a peer of this node.*outpost peer add/)
})

test('a date outside the window is refused, either way; inside it is accepted', () => {
  for (const skew of [REPLAY_WINDOW_MS + 1, -(REPLAY_WINDOW_MS + 1), 24 * 3600_000]) {
    const headers = signRequest({ node: 'camp', key: camp.privateKey, body, now: NOW + skew })
    const r = checkHeaders(headers, keyFor, NOW)
    assert.equal(r.ok, false, `skew ${skew}`)
    assert.match(!r.ok ? r.reason : '', /clock/)
  }
  const edge = signRequest({ node: 'camp', key: camp.privateKey, body, now: NOW - REPLAY_WINDOW_MS + 1 })
  assert.equal(verifyRequest(edge, body, keyFor, new ReplayCache(), NOW).ok, true)
})

test('the date is covered by the signature: moving it into the window does not help', () => {
  const old = signRequest({ node: 'camp', key: camp.privateKey, body, now: NOW - 2 * REPLAY_WINDOW_MS })
  const moved = { ...old, [DATE_HEADER]: String(NOW) }
  const h = checkHeaders(moved, keyFor, NOW)
  assert.equal(h.ok, true)
  const r = h.ok ? verifyDigest(h, bodyDigest(body), new ReplayCache(), NOW) : h
  assert.equal(r.ok, false)
})

test('missing, repeated or malformed headers are refused with a reason', () => {
  const good = signRequest({ node: 'camp', key: camp.privateKey, body, now: NOW })
  const cases: [Record<string, string | string[] | undefined>, RegExp][] = [
    [{ ...good, [SIGNATURE_HEADER]: undefined }, /needs the headers/],
    [{ ...good, [NODE_HEADER]: ['camp', 'camp'] }, /needs the headers/],
    [{ ...good, [NODE_HEADER]: '../etc' }, /not a node name/],
    [{ ...good, [DATE_HEADER]: '2025-01-01' }, /milliseconds/],
    [{ ...good, [SIGNATURE_HEADER]: 'short' }, /base64url/],
  ]
  for (const [headers, reason] of cases) {
    const r = checkHeaders(headers, keyFor, NOW)
    assert.equal(r.ok, false)
    assert.match(!r.ok ? r.reason : '', reason)
  }
})

test('the replay memory forgets signatures once their date has left the window', () => {
  const replay = new ReplayCache(1000)
  assert.equal(replay.remember('a', NOW, NOW), true)
  assert.equal(replay.remember('a', NOW, NOW + 500), false)
  replay.remember('b', NOW + 120_000, NOW + 120_000)
  assert.equal(replay.size, 1, 'the old entry was pruned')
})

test('a box whose clock reads 1970 is refused with both times named, so the person knows which clock to set', () => {
  const h = signRequest({ node: 'camp', key: camp.privateKey, body, now: 0 })
  const r = checkHeaders(h, keyFor, NOW)
  assert.equal(r.ok, false)
  assert.match(r.ok ? '' : r.reason, /date \(1970-01-01T00:00:00\.000Z\) is \d+ s behind this node's clock \(2025-06-15T\S+; at most 10 min allowed\); set the clock/)
})
