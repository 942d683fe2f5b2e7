// The web admin's app over a real initialised node data dir, for inject()
// and injectWS() tests: no Haraka or Dovecot, the real database, services
// and routes. A clock the test moves drives sessions and rate limits.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { initNode } from '../../server/node/init.js'
import { openNode, type NodeContext } from '../../server/context/context.js'
import { exec } from '../../server/base/exec.js'
import { buildApp, type AppOptions } from '../../server/web/app.js'
import { createWebServices, type WebServices } from '../../server/web/plugins/services.js'

export interface AdminFixture {
  app: FastifyInstance
  node: NodeContext
  services: WebServices
  data: string
  /** The test's clock: move it with `clock.now += ms`. */
  clock: { now: number }
  /** Claims the box on the first-run route (with the setup code from its data dir) and returns the session's cookie and CSRF token. */
  setup(password?: string): Promise<Session>
  login(password?: string): Promise<Session>
  close(): Promise<void>
}

export interface Session {
  cookie: string
  csrf: string
  /** Headers for a request made with this session (a change carries the CSRF token). */
  headers: Record<string, string>
}

export const ADMIN_PASSWORD = 'correct horse battery'

/** The box's setup code, read from its data dir as its owner would (`cat <data>/setup-code`). */
export function setupCodeOf(data: string): string {
  return readFileSync(join(data, 'setup-code'), 'utf8').trim()
}

export function sessionFrom(r: LightMyRequestResponse): Session {
  const c = r.cookies.find((x) => x.name === 'outpost_session')
  if (!c) throw new Error(`no session cookie in the answer ${r.statusCode} ${r.body}`)
  const csrf = (r.json() as { csrf: string }).csrf
  const cookie = `outpost_session=${c.value}`
  return { cookie, csrf, headers: { cookie, 'x-csrf-token': csrf } }
}

export async function adminFixture(opts: { domain?: string; app?: Partial<AppOptions> } = {}): Promise<AdminFixture> {
  const data = mkdtempSync(join(tmpdir(), 'outpost-web-'))
  const domain = opts.domain ?? 'camp.test'
  await initNode({ data, domain, host: '127.0.0.1', listen: '127.0.0.1' }, exec)
  const node = openNode(data)
  const services = createWebServices(node)
  const clock = { now: Date.now() }
  const app = await buildApp({
    // /api/health is not what these tests are about; its probes point at nothing.
    probes: { host: '127.0.0.1', smtpPort: 1, imapPort: 1, db: node.db, dataDir: data },
    services,
    now: () => clock.now,
    ...opts.app,
  })
  // inject() readies the app itself; injectWS() does not.
  await app.ready()
  const auth = async (url: string, password: string): Promise<Session> => {
    const payload = url === '/api/auth/setup' ? { password, code: setupCodeOf(data) } : { password }
    const r = await app.inject({ method: 'POST', url, payload })
    if (r.statusCode !== 200) throw new Error(`${url} answered ${r.statusCode} ${r.body}`)
    return sessionFrom(r)
  }
  return {
    app,
    node,
    services,
    data,
    clock,
    setup: (password = ADMIN_PASSWORD) => auth('/api/auth/setup', password),
    login: (password = ADMIN_PASSWORD) => auth('/api/auth/login', password),
    close: async () => {
      await app.close()
      node.close()
      rmSync(data, { recursive: true, force: true })
    },
  }
}
