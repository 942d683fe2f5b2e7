// A node data dir with the web app and a transport scheduler (not started:
// runs happen only when asked), for inject() tests of the operations
// routes. No Haraka or Dovecot: where a test imports mail, a small LMTP
// server stands in for Dovecot on the node's own socket.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { initNode } from '../../server/node/init.js'
import { openNode, type NodeContext } from '../../server/context/context.js'
import { exec } from '../../server/base/exec.js'
import { buildApp } from '../../server/web/app.js'
import { createWebServices, type WebServices } from '../../server/web/plugins/services.js'
import { EventBus, EventLog } from '../../server/events/log.js'
import { Exchange, exchangeServices } from '../../server/exchange/exchange.js'
import { TransportService } from '../../server/transports/service.js'
import { TransportScheduler } from '../../server/transports/scheduler.js'
import type { OutpostEvent } from '../../server/events/types.js'
import { FakeLmtp, type FakeLmtpOptions } from './fake-lmtp.js'
import { ADMIN_PASSWORD, sessionFrom, setupCodeOf, type Session } from './web-admin.js'

/** An injected request's answer; json() is as loosely typed as Fastify's, so each test says what it expects. */
type Answer = Pick<LightMyRequestResponse, 'statusCode' | 'json' | 'body'>

export interface OpsNode {
  node: NodeContext
  app: FastifyInstance
  services: WebServices
  session: Session
  /** Every event this node's bus carried (progress included). */
  pushed: OutpostEvent[]
  lmtp?: FakeLmtp
  /** Resolves with the first pushed or recorded event that matches. */
  waitFor(match: (e: OutpostEvent) => boolean, timeoutMs?: number): Promise<OutpostEvent>
  get(url: string): Promise<Answer>
  send(method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown): Promise<Answer>
  close(): Promise<void>
}

export async function opsNode(data: string, domain: string, opts: { lmtp?: boolean | FakeLmtpOptions; ports?: { smtp: number; imap: number }; keepPushed?: boolean } = {}): Promise<OpsNode> {
  await initNode({ data, domain, host: '127.0.0.1', listen: '127.0.0.1' }, exec)
  const node = openNode(data)
  const bus = new EventBus()
  const events = new EventLog(node.db, bus)
  const log = () => undefined
  const exchange = new Exchange(node, exchangeServices(node, { events, log }))
  const service = new TransportService(node.db, (n) => exchange.peers.get(n) !== undefined)
  const scheduler = new TransportScheduler({ node, exchange, service, exec, log, events }, service)
  const services = createWebServices(node, { exchange, transports: service, scheduler, bus, log })
  const stopTail = services.events.tail(bus, 20)
  const pushed: OutpostEvent[] = []
  const waiters = new Set<{ match: (e: OutpostEvent) => boolean; resolve: (e: OutpostEvent) => void }>()
  bus.on((e) => {
    // A benchmark of 100,000 messages turns this off: every event kept would
    // make the garbage collector's work grow with the size it measures.
    if (opts.keepPushed ?? true) pushed.push(e)
    for (const w of waiters) {
      if (!w.match(e)) continue
      waiters.delete(w)
      w.resolve(e)
    }
  })
  let lmtp: FakeLmtp | undefined
  if (opts.lmtp) {
    mkdirSync(dirname(node.paths.lmtpSocket), { recursive: true })
    lmtp = await new FakeLmtp(node.paths.lmtpSocket, opts.lmtp === true ? {} : opts.lmtp).listen()
  }
  // Port 1: nothing answers there, unless the test stands in for SMTP and IMAP.
  const app = await buildApp({ probes: { host: '127.0.0.1', smtpPort: opts.ports?.smtp ?? 1, imapPort: opts.ports?.imap ?? 1, db: node.db, dataDir: data }, services })
  const r = await app.inject({ method: 'POST', url: '/api/auth/setup', payload: { password: ADMIN_PASSWORD, code: setupCodeOf(data) } })
  if (r.statusCode !== 200) throw new Error(`setup answered ${r.statusCode} ${r.body}`)
  const session = sessionFrom(r)
  return {
    node,
    app,
    services,
    session,
    pushed,
    lmtp,
    waitFor(match, timeoutMs = 20_000) {
      const seen = pushed.find(match)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        // A timer that holds the event loop: the table's tail is unref'd, and
        // the test must still be waiting when the next poll brings the event.
        const timer = setTimeout(() => (waiters.delete(w), reject(new Error(`no matching event within ${timeoutMs} ms; seen: ${JSON.stringify(pushed.map((e) => [e.kind, e.data]))}`))), timeoutMs)
        const w = { match, resolve: (e: OutpostEvent) => (clearTimeout(timer), resolve(e)) }
        waiters.add(w)
      })
    },
    get: (url) => app.inject({ url, headers: { cookie: session.cookie } }),
    send: (method, url, payload) => app.inject({ method, url, headers: session.headers, ...(payload === undefined ? {} : { payload: payload as object }) }),
    async close() {
      stopTail()
      await app.close()
      await lmtp?.close()
      node.close()
    },
  }
}
