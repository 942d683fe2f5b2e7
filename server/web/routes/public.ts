// /api/public: the landing page for group members, no login. It says what
// this box is and, when first-login creation is on, lets a member with an
// invite code make their own account. Joining is rate-limited like the
// admin login: a wrong code counts as a failed try.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { accountCredentials } from '../../accounts/credentials.js'
import { firstLoginEnabled, InviteError, InviteService } from '../../accounts/invites.js'
import { FailureLimiter, LOGIN_LIMIT } from '../../admin/rate-limit.js'
import { Credentials, ErrorBody, PublicInfo } from '../schemas.js'
import { OPEN_ROUTE_LIMIT } from '../plugins/request-limits.js'

const publicRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app.outpost
  const invites = new InviteService(node.db, node.accounts, node.config.node.domain, app.adminAuth.now)
  const limiter = new FailureLimiter(LOGIN_LIMIT, app.adminAuth.now)

  app.get('/info', { schema: { response: { 200: PublicInfo } } }, async () => ({
    name: node.config.node.name,
    domain: node.config.node.domain,
    firstLogin: firstLoginEnabled(node.db),
  }))

  app.post(
    '/join',
    {
      config: { rateLimit: OPEN_ROUTE_LIMIT },
      schema: {
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 64 }), name: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: Credentials, 403: ErrorBody, 409: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      const wait = limiter.retryAfterS(req.ip)
      if (wait > 0) return reply.code(429).header('retry-after', String(wait)).send({ error: `too many tries from this phone; try again in ${Math.ceil(wait / 60)} min`, statusCode: 429 })
      try {
        const r = await invites.redeem(req.body.code, req.body.name)
        app.outpost.log(`web: ${r.address} joined with an invite code`)
        return await accountCredentials(node.config, r.address, r.password)
      } catch (err) {
        // A taken name is an honest mistake; a wrong code may be guessing.
        if (err instanceof InviteError && err.statusCode === 403) limiter.fail(req.ip)
        throw err
      }
    },
  )
}

export default publicRoutes
