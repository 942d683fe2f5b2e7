// Builds the web app: the API and the admin pages (the Svelte app in
// dist/web, served by plugins/web-app.ts). It never listens: the node's
// start-up does, so tests can build it and use inject().
import Fastify, { type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import healthProbes, { type ProbeOptions } from './plugins/health-probes.js'
import securityHeaders from './plugins/security-headers.js'
import requestLimits from './plugins/request-limits.js'
import healthRoutes from './routes/health.js'
import bundleInbox, { type BundleInboxOptions } from './plugins/bundle-inbox.js'
import bundleRoutes from './routes/bundles.js'
import services, { type WebServices } from './plugins/services.js'
import opsRoutes from './routes/ops/index.js'
import authGate from './plugins/auth.js'
import authRoutes from './routes/auth.js'
import { AdminAuth } from '../admin/auth.js'
import { SetupCodeFile } from '../admin/setup-code.js'
import websocket from '@fastify/websocket'
import accountRoutes from './routes/accounts.js'
import publicRoutes from './routes/public.js'
import settingsRoutes from './routes/settings.js'
import eventRoutes from './routes/events.js'
import webApp from './plugins/web-app.js'
import { appRoot } from '../base/app-root.js'
import { join } from 'node:path'

export interface AppOptions {
  probes: ProbeOptions
  tls?: { key: Buffer; cert: Buffer }
  logger?: FastifyServerOptions['logger']
  /** Where bundles POSTed by peers go (the HTTP transport); without it there are no peer routes. */
  inbox?: BundleInboxOptions
  /** The node's services for the web admin; without them there are no admin routes. */
  services?: WebServices
  /** The built web admin to serve (default with services: dist/web of the installation); false for none. */
  web?: { root: string } | false
  /** The clock of sessions and rate limits (tests move it). */
  now?: () => number
  /** Called for every route as it is added, with its schema (tests walk every one; docs/web-api.md is generated from them). */
  onRoute?: (route: RouteOptions) => void
}

/** One schema error as a person reads it, naming the field (the default leaves out an unknown field's name). */
function schemaMessage(e: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }, dataVar: string): string {
  const field = `${dataVar}${e.instancePath.replaceAll('/', '.')}`
  if (e.keyword === 'additionalProperties') return `${field}.${String(e.params.additionalProperty)} is not a known field`
  if (e.keyword === 'required') return `${field}.${String(e.params.missingProperty)} is required`
  return `${field} ${e.message ?? 'is not valid'}`
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    ...(opts.tls ? { https: { key: opts.tls.key, cert: opts.tls.cert } } : {}),
    // The API takes small JSON bodies only; bundles and uploads get their own limits.
    bodyLimit: 1024 * 1024,
    // Fastify's default strips unknown fields silently; a misspelt setting
    // must be refused, not quietly ignored.
    ajv: { customOptions: { removeAdditional: false } },
    schemaErrorFormatter: (errors, dataVar) => new Error(errors.map((e) => schemaMessage(e, dataVar)).join('; ')),
  }).withTypeProvider<TypeBoxTypeProvider>()

  if (opts.onRoute) app.addHook('onRoute', opts.onRoute)

  // One error handler: clear 4xx messages, never the details of a 5xx.
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const code = err.statusCode ?? 500
    if (code >= 500) {
      req.log.error({ err }, 'request failed')
      return reply.code(code).send({ error: 'internal error', statusCode: code })
    }
    return reply.code(code).send({ error: err.message, statusCode: code })
  })

  // Before any route: both hook into every route as it is added.
  await app.register(securityHeaders)
  await app.register(requestLimits)
  await app.register(healthProbes, opts.probes)
  await app.register(healthRoutes, { prefix: '/api' })
  if (opts.inbox) {
    await app.register(bundleInbox, opts.inbox)
    // /api/peer/ is for other nodes, who sign each request with their key; the admin login's gate exempts it.
    await app.register(bundleRoutes, { prefix: '/api/peer' })
  }
  if (opts.services) {
    await app.register(services, { services: opts.services })
    // Small frames only: the page sends nothing, the server sends one event per frame.
    // Registered before the gate, so that its hook marks an upgrade request
    // first and a refused upgrade's socket is closed after the 401.
    await app.register(websocket, { options: { maxPayload: 64 * 1024 } })
    // The gate in front of every /api route (see plugins/auth.ts for which are public).
    await app.register(authGate, { auth: new AdminAuth(opts.services.node.db, opts.now, new SetupCodeFile(opts.services.node.paths.setupCode)) })
    await app.register(authRoutes, { prefix: '/api/auth' })
    await app.register(publicRoutes, { prefix: '/api/public' })
    // The admin's routes: everything here needs a logged-in session.
    await app.register(
      async (admin) => {
        await admin.register(accountRoutes)
        await admin.register(settingsRoutes)
        await admin.register(eventRoutes)
        await admin.register(opsRoutes)
      },
      { prefix: '/api' },
    )
  }
  // The pages: index.html for every path outside /api, so the app routes on the client.
  const web = opts.web ?? (opts.services ? { root: join(appRoot(), 'dist/web') } : false)
  if (web) await app.register(webApp, web)
  return app as unknown as FastifyInstance
}
