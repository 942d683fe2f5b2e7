import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import webApp from '../../../server/web/plugins/web-app.js'

const INDEX = '<!doctype html><title>Outpost</title><div id="app"></div>'

describe('serving the built web app', () => {
  let root: string
  let app: FastifyInstance

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'op-web-'))
    mkdirSync(join(root, 'assets'))
    writeFileSync(join(root, 'index.html'), INDEX)
    writeFileSync(join(root, 'assets', 'index-abc123.js'), 'console.log(1)')
    app = Fastify()
    await app.register(webApp, { root })
    app.get('/api/health', async () => ({ ok: true }))
    await app.ready()
  })
  after(async () => {
    await app.close()
    rmSync(root, { recursive: true, force: true })
  })

  it('answers index.html for the landing page and every admin page, so a reload or a shared link works', async () => {
    for (const url of ['/', '/join', '/admin', '/admin/accounts', '/admin/transports?x=1']) {
      const r = await app.inject({ url })
      assert.equal(r.statusCode, 200, url)
      assert.equal(r.body, INDEX, url)
      assert.match(String(r.headers['content-type']), /text\/html/)
      assert.equal(r.headers['cache-control'], 'no-cache', `${url}: a new build must reach phones at once`)
    }
  })

  it('serves hashed assets as immutable', async () => {
    const r = await app.inject({ url: '/assets/index-abc123.js' })
    assert.equal(r.statusCode, 200)
    assert.equal(r.body, 'console.log(1)')
    assert.match(String(r.headers['cache-control']), /immutable/)
  })

  it('leaves /api alone: an unknown API path is a JSON 404, not the page', async () => {
    const r = await app.inject({ url: '/api/nothing-here' })
    assert.equal(r.statusCode, 404)
    assert.match(r.json<{ error: string }>().error, /no such route: GET \/api\/nothing-here/)
    assert.equal((await app.inject({ url: '/api/health' })).json<{ ok: boolean }>().ok, true)
  })

  it('does not answer the page to a change', async () => {
    const r = await app.inject({ method: 'POST', url: '/admin' })
    assert.equal(r.statusCode, 404)
  })

  it('says how to build the app when it is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'op-web-'))
    const bare = Fastify()
    await bare.register(webApp, { root: empty })
    const r = await bare.inject({ url: '/admin' })
    assert.equal(r.statusCode, 503)
    assert.match(r.body, /node build\/build\.mjs/)
    await bare.close()
    rmSync(empty, { recursive: true, force: true })
  })
})
