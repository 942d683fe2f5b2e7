// The admin login's gate: one onRequest hook for every route under /api.
// Without a live session a request gets 401; a change (anything but GET or
// HEAD) must also carry the session's CSRF token in x-csrf-token, or 403.
// The exempt routes are the ones that cannot need a login: health checks,
// the login itself, the group members' landing page, and other nodes (who
// sign each request with their key instead).
// Until the box is claimed (no admin password yet), every /api request but
// the few a first visit needs gets 403, session or not.
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ABSOLUTE_MS, AdminAuth, sameSecret, type AdminSession } from '../../admin/auth.js'
import { FailureLimiter, LOGIN_LIMIT } from '../../admin/rate-limit.js'

export const SESSION_COOKIE = 'outpost_session'
export const CSRF_HEADER = 'x-csrf-token'
/** The dashboard's own polling sets this, so that it does not keep a session alive. */
export const BACKGROUND_HEADER = 'x-outpost-background'

const PUBLIC_ROUTES = new Set(['/api/health', '/api/auth/state', '/api/auth/setup', '/api/auth/login'])
const PUBLIC_PREFIXES = ['/api/public/', '/api/peer/']
/**
 * What answers on a box nobody has claimed: health, the first-run page's
 * state and setup, the landing page, and other nodes, whose requests are
 * signed with a key only the owner can have added (`outpost peer add`).
 */
const UNCLAIMED_ROUTES = new Set(['/api/health', '/api/auth/state', '/api/auth/setup'])
const UNCLAIMED_PREFIXES = ['/api/public/', '/api/peer/']
export const NOT_CLAIMED = 'this box is not claimed yet: set the admin password on the first-run page, with the setup code from the box'
/** Requests a person does not make: they see the session but do not extend it. */
const UNTOUCHING_ROUTES = new Set(['/api/ws'])

export function isPublicRoute(url: string): boolean {
  return PUBLIC_ROUTES.has(url) || PUBLIC_PREFIXES.some((p) => url.startsWith(p))
}

export interface AuthPluginOptions {
  auth: AdminAuth
  /** Login failures per client address; also used by the landing page's join. */
  limiter?: FailureLimiter
}

declare module 'fastify' {
  interface FastifyInstance {
    adminAuth: AdminAuth
    loginLimiter: FailureLimiter
    /** Sets the session cookie for a new session. */
    startSession(reply: FastifyReply): AdminSession
  }
  interface FastifyRequest {
    /** The admin's session, set by the gate on every route that needs one. */
    adminSession: AdminSession | null
  }
}

export function answersUnclaimed(url: string): boolean {
  return UNCLAIMED_ROUTES.has(url) || UNCLAIMED_PREFIXES.some((p) => url.startsWith(p))
}

/** The route's pattern, or for a request that matches none its path (lower-cased: nobody probes past the gate with case). */
function routeOf(req: FastifyRequest): string {
  return req.routeOptions.url ?? req.url.split('?')[0]!.toLowerCase()
}

function isApi(url: string): boolean {
  return url === '/api' || url.startsWith('/api/')
}

function gated(req: FastifyRequest): boolean {
  // The matched route's pattern, so that /api/%61ccounts or a trailing
  // slash cannot slip past; a request that matches no route is gated by
  // its path, so that nobody can probe which admin routes exist.
  const url = routeOf(req)
  return isApi(url) && !isPublicRoute(url)
}

export default fp<AuthPluginOptions>(
  async (app, opts) => {
    await app.register(cookie)
    app.decorate('adminAuth', opts.auth)
    app.decorate('loginLimiter', opts.limiter ?? new FailureLimiter(LOGIN_LIMIT, opts.auth.now))
    app.decorateRequest('adminSession', null)
    app.decorate('startSession', (reply: FastifyReply) => {
      const { id, session } = opts.auth.createSession()
      reply.setCookie(SESSION_COOKIE, id, {
        httpOnly: true,
        // Strict: the cookie never rides along on a request another site starts.
        sameSite: 'strict',
        // The web server always speaks TLS (the node's certificate).
        secure: true,
        path: '/',
        maxAge: ABSOLUTE_MS / 1000,
      })
      return session
    })

    app.addHook('onRequest', async (req, reply) => {
      if (!opts.auth.isSetUp()) {
        const url = routeOf(req)
        if (isApi(url) && !answersUnclaimed(url)) return reply.code(403).send({ error: NOT_CLAIMED, statusCode: 403 })
      }
      if (!gated(req)) return
      const touch = req.headers[BACKGROUND_HEADER] !== '1' && !UNTOUCHING_ROUTES.has(req.routeOptions.url ?? '')
      const session = opts.auth.session(req.cookies[SESSION_COOKIE], { touch })
      if (!session) return reply.code(401).send({ error: 'log in first', statusCode: 401 })
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const token = req.headers[CSRF_HEADER]
        if (typeof token !== 'string' || !sameSecret(token, session.csrf)) return reply.code(403).send({ error: 'missing or wrong CSRF token', statusCode: 403 })
      }
      req.adminSession = session
    })
  },
  { name: 'outpost-auth' },
)
