// POST /api/peer/pickup with inject() and a stand-in exchange: only the
// peer itself, signed for this path, gets its bundles, and only once per
// signature; the bundles count as handed over only when that peer confirms
// the answer's token.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { buildApp } from '../../../server/web/app.js'
import type { Db } from '../../../server/db/index.js'
import { BUNDLES_PATH, PICKUP_PATH, PICKUP_TOKEN_HEADER, pickupDonePath, signRequest } from '../../../server/transports/http-auth.js'
import { unframeBundles } from '../../../server/transports/pickup.js'

const camp = generateKeyPairSync('ed25519')
const hill = generateKeyPairSync('ed25519')
const name = `town--camp--20261125T180000Z--${'a'.repeat(32)}.obundle`

async function app(withPickup = true) {
  const asked: string[] = []
  /** Each answer with bundles, in order: whether it was confirmed. */
  const answers: { peer: string; confirmed: number }[] = []
  const a = await buildApp({
    probes: { host: '127.0.0.1', smtpPort: 1, imapPort: 1, db: undefined as unknown as Db, dataDir: '.' },
    inbox: {
      signerFor: (peer) => ({ camp: camp.publicKey, hill: hill.publicKey })[peer],
      importBundle: async () => {
        throw new Error('not used')
      },
      ...(withPickup
        ? {
            pickup: async (peer: string) => {
              asked.push(peer)
              const answer = { peer, confirmed: 0 }
              answers.push(answer)
              return { bundles: peer === 'camp' ? [{ name, bytes: Buffer.from('sealed for camp') }] : [], confirm: () => void answer.confirmed++ }
            },
          }
        : {}),
    },
  })
  return { a, asked, answers }
}

/**
 * A fresh signature each call. Ed25519 is deterministic and the date is in
 * milliseconds, so two requests for the same path signed within one
 * millisecond would be the same request, which the node rightly takes for a
 * replay; a real sender's requests are never that close.
 */
let lastDate = 0
const signed = (node: 'camp' | 'hill', path: string) => {
  lastDate = Math.max(Date.now(), lastDate + 1)
  return signRequest({ node, key: (node === 'camp' ? camp : hill).privateKey, body: Buffer.alloc(0), path, now: lastDate })
}
const confirm = (a: Awaited<ReturnType<typeof buildApp>>, node: 'camp' | 'hill', token: string) => a.inject({ method: 'POST', url: pickupDonePath(token), headers: signed(node, pickupDonePath(token)) })

const pick = (a: Awaited<ReturnType<typeof buildApp>>, headers: Record<string, string>) => a.inject({ method: 'POST', url: PICKUP_PATH, headers })

test('the peer gets the bundles waiting for it, framed; a replay and a stranger get nothing', async () => {
  const { a, asked } = await app()
  const headers = signRequest({ node: 'camp', key: camp.privateKey, body: Buffer.alloc(0), path: PICKUP_PATH })
  const r = await pick(a, headers)
  assert.equal(r.statusCode, 200)
  assert.equal(r.headers['content-type'], 'application/x-outpost-bundles')
  assert.deepEqual(unframeBundles(r.rawPayload, 1024).map((b) => [b.name, b.bytes.toString()]), [[name, 'sealed for camp']])
  assert.equal((await pick(a, headers)).statusCode, 401, 'the same signed request again is a replay')
  // hill signs as itself and gets only its own (nothing); it cannot ask as camp.
  const asHill = await pick(a, signRequest({ node: 'hill', key: hill.privateKey, body: Buffer.alloc(0), path: PICKUP_PATH }))
  assert.equal(asHill.statusCode, 200)
  assert.equal(asHill.rawPayload.length, 0)
  const forged = await pick(a, signRequest({ node: 'camp', key: hill.privateKey, body: Buffer.alloc(0), path: PICKUP_PATH }))
  assert.equal(forged.statusCode, 401)
  // A signature made for pushing a bundle is no pickup.
  const wrongPath = await pick(a, signRequest({ node: 'camp', key: camp.privateKey, body: Buffer.alloc(0), path: BUNDLES_PATH }))
  assert.equal(wrongPath.statusCode, 401)
  assert.deepEqual(asked, ['camp', 'hill'])
  await a.close()
})

test('a node that hands out no bundles says so', async () => {
  const { a } = await app(false)
  const r = await pick(a, signRequest({ node: 'camp', key: camp.privateKey, body: Buffer.alloc(0), path: PICKUP_PATH }))
  assert.equal(r.statusCode, 404)
  await a.close()
})

test('a pickup with a body is refused before the body is read, and one with a JSON body is no pickup', async () => {
  const { a, asked } = await app()
  const big = Buffer.alloc(1024 * 1024, 1)
  let r = await a.inject({ method: 'POST', url: PICKUP_PATH, headers: { ...signRequest({ node: 'camp', key: camp.privateKey, body: big, path: PICKUP_PATH }), 'content-type': 'application/octet-stream' }, payload: big })
  assert.equal(r.statusCode, 413)
  const json = Buffer.from('{}')
  r = await a.inject({ method: 'POST', url: PICKUP_PATH, headers: { ...signRequest({ node: 'camp', key: camp.privateKey, body: Buffer.alloc(0), path: PICKUP_PATH }), 'content-type': 'application/json' }, payload: json })
  assert.equal(r.statusCode, 401)
  assert.match(r.json().error, /application\/octet-stream/)
  assert.deepEqual(asked, [])
  assert.equal(a.bundleInbox.uploads.busy, 0, 'no upload slot is left taken')
  await a.close()
})

test('an answer counts as handed over only when its peer confirms its token, once', async () => {
  const { a, answers } = await app()
  const first = await pick(a, signed('camp', PICKUP_PATH))
  const token = first.headers[PICKUP_TOKEN_HEADER]
  assert.match(String(token), /^[0-9a-f]{32}$/)
  assert.equal(answers[0]!.confirmed, 0, 'nothing is handed over by sending the answer')
  // The answer was lost on the way: the next pickup is a new answer with a token of its own.
  const second = await pick(a, signed('camp', PICKUP_PATH))
  const token2 = String(second.headers[PICKUP_TOKEN_HEADER])
  assert.notEqual(token2, token)
  // hill cannot confirm camp's answer, and a token never given is unknown.
  const byHill = await confirm(a, 'hill', token2)
  assert.equal(byHill.statusCode, 200)
  assert.deepEqual(byHill.json(), { confirmed: false })
  assert.deepEqual((await confirm(a, 'camp', 'f'.repeat(32))).json(), { confirmed: false })
  // A confirmation signed for another token's path is refused.
  const mismatched = await a.inject({ method: 'POST', url: pickupDonePath(token2), headers: signed('camp', pickupDonePath(String(token))) })
  assert.equal(mismatched.statusCode, 401)
  const ok = await confirm(a, 'camp', token2)
  assert.deepEqual(ok.json(), { confirmed: true })
  assert.deepEqual(answers.map((x) => x.confirmed), [0, 1])
  // Twice is no second hand-over.
  assert.deepEqual((await confirm(a, 'camp', token2)).json(), { confirmed: false })
  assert.deepEqual(answers.map((x) => x.confirmed), [0, 1])
  // A malformed token is not a route.
  const bad = await a.inject({ method: 'POST', url: `${PICKUP_PATH}/done/nope`, headers: signed('camp', `${PICKUP_PATH}/done/nope`) })
  assert.equal(bad.statusCode, 400)
  await a.close()
})

test('an empty answer carries no token', async () => {
  const { a } = await app()
  const r = await pick(a, signed('hill', PICKUP_PATH))
  assert.equal(r.statusCode, 200)
  assert.equal(r.headers[PICKUP_TOKEN_HEADER], undefined)
  await a.close()
})
