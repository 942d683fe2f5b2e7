// How many requests one client address may make, through @fastify/rate-limit
// (its in-memory store: one process serves the box, and a restart that
// forgets the counts is one an attacker cannot cause).
//
// Every route gets REQUEST_LIMIT; the routes a stranger can reach that make
// the node hash a password or check a code get a tighter one in their route
// config (`config: { rateLimit: OPEN_ROUTE_LIMIT }`). Other
// nodes' /api/peer/ routes are left to the bundle inbox's own per-peer
// limit: a backlog after days apart arrives as a burst of POSTs.
//
// Failed logins, setup codes and invite codes are counted apart, by
// FailureLimiter (server/admin/rate-limit.ts): that is a count of failures
// per address, which forgives a success, and @fastify/rate-limit counts
// requests whatever their outcome.
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'

/** A person's browser: a page load is a handful of requests, the dashboard polls every few seconds. */
export const REQUEST_LIMIT = { max: 600, timeWindow: 60_000 }
/** Routes without a login that hash a password or check a code: first-run setup, login, the landing page's join. */
export const OPEN_ROUTE_LIMIT = { max: 30, timeWindow: 60_000 }

export default fp(
  async (app) => {
    await app.register(rateLimit, {
      ...REQUEST_LIMIT,
      allowList: (req) => req.url.startsWith('/api/peer/'),
      // Thrown into the app's one error handler, which answers {error, statusCode}.
      errorResponseBuilder: (_req, ctx) =>
        Object.assign(new Error(`too many requests from this address; try again in ${Math.max(1, Math.ceil(ctx.ttl / 1000))} s`), { statusCode: ctx.statusCode }),
    })
  },
  { name: 'outpost-request-limits' },
)
