// /api/auth: first-run setup (which claims the box with its setup code),
// login, logout and changing the admin password.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AdminAuthError, WRONG_SETUP_CODE } from '../../admin/auth.js'
import { MIN_ADMIN_PASSWORD } from '../../accounts/password.js'
import { SESSION_COOKIE } from '../plugins/auth.js'
import { AuthState, CsrfAnswer as Csrf, ErrorBody } from '../schemas.js'
import { OPEN_ROUTE_LIMIT } from '../plugins/request-limits.js'

const Password = Type.String({ minLength: MIN_ADMIN_PASSWORD, maxLength: 256 })

const auth: FastifyPluginAsyncTypebox = async (app) => {
  const { adminAuth, loginLimiter } = app

  app.get(
    '/state',
    { schema: { response: { 200: AuthState } } },
    async (req) => {
      // Looking does not extend the session: the page asks this on every load.
      const s = adminAuth.session(req.cookies[SESSION_COOKIE], { touch: false })
      return { setup: adminAuth.isSetUp(), loggedIn: s !== undefined, ...(s ? { csrf: s.csrf } : {}) }
    },
  )

  app.post(
    '/setup',
    {
      config: { rateLimit: OPEN_ROUTE_LIMIT },
      schema: {
        // `code`: the box's setup code (server/admin/setup-code.ts), as typed: case, spaces and dashes do not matter.
        body: Type.Object({ password: Password, code: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: Csrf, 403: ErrorBody, 409: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      // Guessing the code goes no faster than guessing the password.
      const wait = loginLimiter.retryAfterS(req.ip)
      if (wait > 0) {
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .send({ error: `too many wrong setup codes from this address; try again in ${Math.ceil(wait / 60)} min`, statusCode: 429 })
      }
      if (adminAuth.isSetUp()) throw new AdminAuthError('an admin password is already set; log in with it (forgotten? run `outpost admin password` on the box)', 409)
      if (!adminAuth.isSetupCode(req.body.code)) {
        loginLimiter.fail(req.ip)
        app.outpost?.log(`web admin: first-run setup from ${req.ip} refused: wrong setup code`)
        return reply.code(403).send({ error: WRONG_SETUP_CODE, statusCode: 403 })
      }
      await adminAuth.setUp(req.body.password, req.body.code)
      loginLimiter.clear(req.ip)
      app.outpost?.log(`web admin: claimed from ${req.ip}: admin password set on the first-run page`)
      return { csrf: app.startSession(reply).csrf }
    },
  )

  app.post(
    '/login',
    // No minimum length here: a wrong password is a 401, not a hint about the rule.
    { config: { rateLimit: OPEN_ROUTE_LIMIT }, schema: { body: Type.Object({ password: Type.String({ maxLength: 256 }) }, { additionalProperties: false }), response: { 200: Csrf, 401: ErrorBody, 409: ErrorBody, 429: ErrorBody } } },
    async (req, reply) => {
      const wait = loginLimiter.retryAfterS(req.ip)
      if (wait > 0) {
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .send({ error: `too many failed logins from this address; try again in ${Math.ceil(wait / 60)} min`, statusCode: 429 })
      }
      if (!adminAuth.isSetUp()) throw new AdminAuthError('no admin password is set yet; set one on the first-run page', 409)
      // Counted as a failure before the (slow) check and forgiven after it,
      // so that many tries sent at once cannot all pass the limit.
      loginLimiter.fail(req.ip)
      if (!(await adminAuth.verify(req.body.password))) return reply.code(401).send({ error: 'wrong password', statusCode: 401 })
      loginLimiter.clear(req.ip)
      return { csrf: app.startSession(reply).csrf }
    },
  )

  app.post('/logout', { schema: { response: { 204: Type.Null() } } }, async (req, reply) => {
    if (req.adminSession) adminAuth.endSession(req.adminSession)
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    return reply.code(204).send(null)
  })

  app.post(
    '/password',
    { schema: { body: Type.Object({ current: Type.String({ maxLength: 256 }), password: Password }, { additionalProperties: false }), response: { 204: Type.Null(), 403: ErrorBody, 429: ErrorBody } } },
    async (req, reply) => {
      // A stolen session must not be able to guess its way to the password either.
      const wait = loginLimiter.retryAfterS(req.ip)
      if (wait > 0) return reply.code(429).header('retry-after', String(wait)).send({ error: 'too many wrong passwords from this address; try again later', statusCode: 429 })
      loginLimiter.fail(req.ip)
      if (!(await adminAuth.verify(req.body.current))) return reply.code(403).send({ error: 'the current password is wrong', statusCode: 403 })
      loginLimiter.clear(req.ip)
      await adminAuth.setPassword(req.body.password, req.adminSession ?? undefined)
      app.outpost?.log('web admin: admin password changed; other sessions ended')
      return reply.code(204).send(null)
    },
  )
}

export default auth
