// POST /api/peer/bundles with inject() and a stand-in exchange: the answers
// a sending node acts on (keep the bundle or forget it), and the limits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { buildApp } from '../../../server/web/app.js'
import type { BundleInboxOptions } from '../../../server/web/plugins/bundle-inbox.js'
import type { ImportOutcome } from '../../../server/exchange/import.js'
import type { BundleHeader } from '../../../server/bundle/format.js'
import type { Db } from '../../../server/db/index.js'
import { signRequest } from '../../../server/transports/http-auth.js'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitFor } from '../../helpers/wait.js'


const camp = generateKeyPairSync('ed25519')
const header = { v: 1, id: 'b1', kind: 'mail', origin: 'camp', destination: 'town', created: 0, expires: 1, hops: 0, hopLimit: 16, count: 1 } as unknown as BundleHeader

async function appWith(outcome: ImportOutcome, rate?: BundleInboxOptions['rate']) {
  const imported: Buffer[] = []
  const app = await buildApp({
    // The probes are only called by /api/health, which these tests leave alone.
    probes: { host: '127.0.0.1', smtpPort: 1, imapPort: 1, db: undefined as unknown as Db, dataDir: '.' },
    inbox: {
      signerFor: (peer) => (peer === 'camp' ? camp.publicKey : undefined),
      importBundle: async (bytes) => {
        imported.push(bytes)
        return outcome
      },
      rate,
    },
  })
  return { app, imported }
}

function send(app: Awaited<ReturnType<typeof buildApp>>, body: Buffer, headers = signRequest({ node: 'camp', key: camp.privateKey, body })) {
  return app.inject({ method: 'POST', url: '/api/peer/bundles', headers: { ...headers, 'content-type': 'application/octet-stream' }, payload: body })
}

test('an imported bundle is a 200 with what happened to its mail', async () => {
  const { app, imported } = await appWith({ kind: 'imported', header, delivered: 2, forwarded: 1, duplicates: 0, quarantined: 0, acked: 0 })
  const body = Buffer.from('bundle bytes')
  const r = await send(app, body)
  assert.equal(r.statusCode, 200)
  assert.deepEqual(r.json(), { outcome: 'imported', bundle: 'b1', delivered: 2, forwarded: 1, duplicates: 0, quarantined: 0, acked: 0 })
  assert.deepEqual(imported, [body])
  await app.close()
})

test('a deferred import is a 503 with Retry-After, so the sender keeps the bundle', async () => {
  const { app } = await appWith({ kind: 'deferred', header, reason: 'local delivery failed for now: LMTP down' })
  const r = await send(app, Buffer.from('x'))
  assert.equal(r.statusCode, 503)
  assert.equal(r.headers['retry-after'], '60')
  assert.equal(r.json().outcome, 'deferred')
  assert.match(r.json().reason, /LMTP down/)
  await app.close()
})

test('a quarantined or misdirected bundle is a 422 that says why', async () => {
  let { app } = await appWith({ kind: 'quarantined', reason: 'corrupt', file: '/q/x' })
  let r = await send(app, Buffer.from('x'))
  assert.equal(r.statusCode, 422)
  assert.match(r.json().reason, /quarantine on this node: corrupt/)
  assert.equal(r.json().file, undefined, 'the receiver does not tell its paths')
  await app.close()
  ;({ app } = await appWith({ kind: 'not-for-us', header: { ...header, destination: 'hill' } }))
  r = await send(app, Buffer.from('x'))
  assert.equal(r.statusCode, 422)
  assert.match(r.json().reason, /for node "hill".*check the url/)
  await app.close()
})

test('unsigned requests, other content types and oversized bodies never reach the import', async () => {
  const { app, imported } = await appWith({ kind: 'duplicate', header })
  let r = await app.inject({ method: 'POST', url: '/api/peer/bundles', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from('x') })
  assert.equal(r.statusCode, 401)
  assert.match(r.json().error, /needs the headers X-Outpost-Node/)
  const json = Buffer.from('{}')
  r = await app.inject({ method: 'POST', url: '/api/peer/bundles', headers: { ...signRequest({ node: 'camp', key: camp.privateKey, body: json }), 'content-type': 'application/json' }, payload: json })
  assert.equal(r.statusCode, 415, 'JSON is not a bundle')
  assert.match(r.json().error, /application\/octet-stream/)
  const big = Buffer.alloc(64 * 1024 * 1024 + 1)
  r = await send(app, big)
  assert.equal(r.statusCode, 413)
  assert.deepEqual(imported, [])
  await app.close()
})

test('a peer over its rate gets 429 with Retry-After', async () => {
  const { app, imported } = await appWith({ kind: 'duplicate', header }, { burst: 2, perSecond: 0.5 })
  const codes: number[] = []
  for (let i = 0; i < 3; i++) codes.push((await send(app, Buffer.from(`b${i}`))).statusCode)
  assert.deepEqual(codes, [200, 200, 429])
  const r = await send(app, Buffer.from('b3'))
  assert.equal(r.headers['retry-after'], '2')
  assert.match(r.json().error, /too many requests from node "camp"/)
  assert.equal(imported.length, 2)
  await app.close()
})

test('bodies with a bad signature are refused after streaming to disk, past the cap get 503 before their body is read, and no temp file stays', async () => {
  const uploadDir = mkdtempSync(join(tmpdir(), 'op-uploads-'))
  const imported: Buffer[] = []
  const app = await buildApp({
    probes: { host: '127.0.0.1', smtpPort: 1, imapPort: 1, db: undefined as unknown as Db, dataDir: '.' },
    inbox: {
      signerFor: (peer) => (peer === 'camp' ? camp.publicKey : undefined),
      importBundle: async (bytes) => {
        imported.push(bytes)
        return { kind: 'duplicate', header }
      },
      uploadDir,
      maxUnverifiedUploads: 2,
    },
  })
  try {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as AddressInfo).port
    const stranger = generateKeyPairSync('ed25519').privateKey
    // Slow bodies: two hold both slots while a third is asked in.
    const slow = [0, 1].map(() => {
      const body = Buffer.alloc(1024 * 1024, 7)
      const headers = signRequest({ node: 'camp', key: stranger, body })
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/peer/bundles', headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(body.length) } })
      const answered = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        req.on('error', reject)
      })
      req.write(body.subarray(0, 1024))
      return { req, body, answered }
    })
    await waitFor('both slots taken', () => readdirSync(uploadDir).length === 2)
    const body = Buffer.from('a good one')
    let r = await fetch(`http://127.0.0.1:${port}/api/peer/bundles`, { method: 'POST', headers: { ...signRequest({ node: 'camp', key: camp.privateKey, body }), 'content-type': 'application/octet-stream' }, body })
    assert.equal(r.status, 503, 'a third unverified upload waits')
    assert.equal(r.headers.get('retry-after'), '5')
    for (const s of slow) s.req.end(s.body.subarray(1024))
    assert.deepEqual(await Promise.all(slow.map((s) => s.answered)), [401, 401])
    await waitFor('slots back', () => app.bundleInbox.uploads.busy === 0)
    // The good one, sent again, goes through; nothing stays in the upload folder.
    r = await fetch(`http://127.0.0.1:${port}/api/peer/bundles`, { method: 'POST', headers: { ...signRequest({ node: 'camp', key: camp.privateKey, body }), 'content-type': 'application/octet-stream' }, body })
    assert.equal(r.status, 200)
    assert.deepEqual(imported, [body])
    // A sender that goes away halfway leaves nothing behind either.
    const cut = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/peer/bundles', headers: { ...signRequest({ node: 'camp', key: camp.privateKey, body: Buffer.alloc(2048) }), 'content-type': 'application/octet-stream', 'content-length': '2048' } })
    cut.on('error', () => undefined)
    cut.write(Buffer.alloc(1024))
    await waitFor('the cut upload to start', () => readdirSync(uploadDir).length === 1)
    cut.destroy()
    await waitFor('the cut upload removed and its slot back', () => readdirSync(uploadDir).length === 0 && app.bundleInbox.uploads.busy === 0)
  } finally {
    await app.close()
    rmSync(uploadDir, { recursive: true, force: true })
  }
})

test('a JSON or text body is not buffered up to the bundle limit', async () => {
  const { app, imported } = await appWith({ kind: 'duplicate', header })
  const big = Buffer.from(JSON.stringify({ junk: 'x'.repeat(64 * 1024) }))
  const r = await app.inject({ method: 'POST', url: '/api/peer/bundles', headers: { ...signRequest({ node: 'camp', key: camp.privateKey, body: big }), 'content-type': 'application/json' }, payload: big })
  assert.equal(r.statusCode, 413)
  assert.deepEqual(imported, [])
  await app.close()
})
