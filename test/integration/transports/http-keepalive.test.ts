// The HTTP transport keeps its connection to a peer open between runs
// (transports/http.ts, agentFor). What must still hold: a request is written
// only to a server whose TLS key is the pinned one, on a new connection or
// a kept one, and a kept connection the server closed meanwhile costs a
// retry, not a failed run. A loopback HTTPS server with a self-signed key
// stands in for the peer's web server.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closePeerConnections, postBundle, TlsPinError } from '../../../server/transports/http.js'
import { makeSelfSignedCert } from '../../../server/tls/selfsigned.js'
import { spkiPin } from '../../../server/tls/pin.js'
import { exec } from '../../../server/base/exec.js'

const dir = mkdtempSync(join(tmpdir(), 'op-keepalive-'))
after(() => {
  closePeerConnections()
  rmSync(dir, { recursive: true, force: true })
})

interface Peer {
  server: Server
  url: URL
  pin: string
  /** TLS connections the server accepted. */
  connections: number
  /** Requests it read, by body. */
  bodies: string[]
  close(): Promise<void>
}

async function keyPair(name: string): Promise<{ key: Buffer; cert: Buffer; pin: string }> {
  const keyPath = join(dir, `${name}.key`)
  const certPath = join(dir, `${name}.crt`)
  await makeSelfSignedCert(exec, { keyPath, certPath, domain: `${name}.test`, host: '127.0.0.1', dir })
  const cert = readFileSync(certPath)
  return { key: readFileSync(keyPath), cert, pin: spkiPin(new X509Certificate(cert)) }
}

/** A peer's web server; `answer` decides per request (the default answers 200 with the body's text). */
async function peer(tls: { key: Buffer; cert: Buffer; pin: string }, answer?: (n: number, socketRequests: number) => 'ok' | 'cut'): Promise<Peer> {
  const perSocket = new WeakMap<object, number>()
  const p: Peer = {
    server: createServer({ key: tls.key, cert: tls.cert, keepAliveTimeout: 60_000 }, (req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1
      perSocket.set(req.socket, n)
      const parts: Buffer[] = []
      req.on('data', (d: Buffer) => parts.push(d))
      req.on('end', () => {
        p.bodies.push(Buffer.concat(parts).toString())
        if (answer?.(p.bodies.length, n) === 'cut') return void req.socket.destroy()
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"outcome":"imported"}')
      })
    }),
    url: new URL('https://127.0.0.1/'),
    pin: tls.pin,
    connections: 0,
    bodies: [],
    close: () => new Promise((r) => p.server.close(() => r())),
  }
  p.server.on('secureConnection', () => p.connections++)
  p.server.listen(0, '127.0.0.1')
  await new Promise((r) => p.server.once('listening', r))
  p.url = new URL(`https://127.0.0.1:${(p.server.address() as AddressInfo).port}/api/peer/bundles`)
  return p
}

const keys = { town: await keyPair('town'), stranger: await keyPair('stranger') }

test('bundles to one peer go over one kept-open connection, each after its pin check', async () => {
  const town = await peer(keys.town)
  try {
    for (const body of ['one', 'two', 'three']) {
      const r = await postBundle(town.url, Buffer.from(body), {}, { insecureTls: true, pin: town.pin })
      assert.equal(r.status, 200)
    }
    assert.deepEqual(town.bodies, ['one', 'two', 'three'])
    assert.equal(town.connections, 1, 'one TLS handshake for three bundles')
  } finally {
    town.server.closeAllConnections()
    await town.close()
  }
})

test('a server whose key is not the pinned one gets no request, on a new connection or beside a kept one', async () => {
  const stranger = await peer(keys.stranger)
  try {
    await assert.rejects(postBundle(stranger.url, Buffer.from('secret'), { 'x-outpost-node': 'camp' }, { insecureTls: true, pin: keys.town.pin }), TlsPinError)
    assert.deepEqual(stranger.bodies, [], 'nothing was written to the stranger')
    // A connection opened for the stranger's own pin is kept open; a
    // request that pins the town's key must not ride on it.
    assert.equal((await postBundle(stranger.url, Buffer.from('for the stranger'), {}, { insecureTls: true, pin: keys.stranger.pin })).status, 200)
    await assert.rejects(postBundle(stranger.url, Buffer.from('secret'), {}, { insecureTls: true, pin: keys.town.pin }), TlsPinError)
    assert.deepEqual(stranger.bodies, ['for the stranger'])
  } finally {
    stranger.server.closeAllConnections()
    await stranger.close()
  }
})

test('a kept-open connection the peer cut is replaced, and the bundle still arrives', async () => {
  // The second request on the first connection is read and cut without an answer.
  const town = await peer(keys.town, (_n, onSocket) => (onSocket === 2 ? 'cut' : 'ok'))
  try {
    assert.equal((await postBundle(town.url, Buffer.from('first'), {}, { insecureTls: true, pin: town.pin })).status, 200)
    const r = await postBundle(town.url, Buffer.from('second'), {}, { insecureTls: true, pin: town.pin })
    assert.equal(r.status, 200)
    // The cut copy arrived too: the peer answers a bundle it has as a duplicate.
    assert.deepEqual(town.bodies, ['first', 'second', 'second'])
    assert.equal(town.connections, 2)
  } finally {
    town.server.closeAllConnections()
    await town.close()
  }
})
