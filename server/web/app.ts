// Builds the web app (API and, later, the admin pages). It never listens:
// the node's start-up does, so tests can build it and use inject().
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import healthProbes, { type ProbeOptions } from './plugins/health-probes.js'
import healthRoutes from './routes/health.js'

export interface AppOptions {
  probes: ProbeOptions
  tls?: { key: Buffer; cert: Buffer }
  logger?: FastifyServerOptions['logger']
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    ...(opts.tls ? { https: { key: opts.tls.key, cert: opts.tls.cert } } : {}),
    // The API takes small JSON bodies only; bundles and uploads get their own limits.
    bodyLimit: 1024 * 1024,
  }).withTypeProvider<TypeBoxTypeProvider>()

  // One error handler: clear 4xx messages, never the details of a 5xx.
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const code = err.statusCode ?? 500
    if (code >= 500) {
      req.log.error({ err }, 'request failed')
      return reply.code(code).send({ error: 'internal error', statusCode: code })
    }
    return reply.code(code).send({ error: err.message, statusCode: code })
  })

  await app.register(healthProbes, opts.probes)
  await app.register(healthRoutes, { prefix: '/api' })
  return app as unknown as FastifyInstance
}
