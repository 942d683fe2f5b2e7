// Serves the built web admin and landing page (dist/web, made by
// `node build/build.mjs`). The app routes on the client: any GET outside
// /api that is not a file answers index.html, and the page picks what to show.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'

export interface WebAppOptions {
  /** The built app: index.html and assets/. */
  root: string
}

export default fp<WebAppOptions>(
  async (app, opts) => {
    const built = existsSync(join(opts.root, 'index.html'))
    if (built) {
      await app.register(fastifyStatic, {
        root: opts.root,
        // One route per file that exists at start-up rather than a catch-all
        // GET /*, so an unknown /api path still meets the login gate, and
        // the not-found handler below can answer index.html.
        wildcard: false,
        index: false,
        cacheControl: false,
        setHeaders(reply, path) {
          // File names under assets/ carry a content hash: they never change.
          reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
          // The security headers (CSP and the rest) come from plugins/security-headers.ts, on every answer.
        },
      })
    }

    app.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0]!
      if ((req.method === 'GET' || req.method === 'HEAD') && path !== '/api' && !path.startsWith('/api/')) {
        if (!built) {
          return reply
            .code(503)
            .type('text/plain; charset=utf-8')
            .send(`The web admin is not built: run \`node build/build.mjs\` in the Outpost folder (expected ${opts.root}/index.html).\n`)
        }
        // setHeaders above adds the page's cache header.
        return reply.sendFile('index.html')
      }
      return reply.code(404).send({ error: `no such route: ${req.method} ${path}`, statusCode: 404 })
    })
  },
  { name: 'outpost-web-app' },
)
