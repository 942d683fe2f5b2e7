// POST /api/peer/pickup with inject() and a stand-in exchange: only the
// peer itself, signed for this path, gets its bundles, and only once per
// signature.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { buildApp } from '../../../server/web/app.js'
import type { Db } from '../../../server/db/index.js'
import { BUNDLES_PATH, PICKUP_PATH, signRequest } from '../../../server/transports/http-auth.js'
import { unframeBundles } from '../../../server/transports/pickup.js'

const camp = generateKeyPairSync('ed25519')
const hill = generateKeyPairSync('ed25519')
const name = `town--camp--20261125T180000Z--${'a'.repeat(32)}.obundle`

async function app(withPickup = true) {
  const asked: string[] = []
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
              return peer === 'camp' ? [{ name, bytes: Buffer.from('sealed for camp') }] : []
            },
          }
        : {}),
    },
  })
  return { a, asked }
}

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
