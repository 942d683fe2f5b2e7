// GET /api/dashboard and /api/traffic: the node at a glance.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { appRoot } from '../../../base/app-root.js'
import { queueHealth } from '../../../outbox/outbox.js'
import { dailyTraffic } from '../../../events/traffic.js'
import { Dashboard, Traffic } from '../../schemas.js'

const dashboard: FastifyPluginAsyncTypebox = async (app) => {
  const { node, transports, outbox } = app.outpost
  const version = (JSON.parse(readFileSync(join(appRoot(), 'package.json'), 'utf8')) as { version: string }).version

  app.get('/dashboard', { schema: { response: { 200: Dashboard } } }, async () => {
    const [smtp, imap, disk] = await Promise.all([app.health.smtp(), app.health.imap(), app.health.disk()])
    const q = outbox.summary()
    return {
      node: { name: node.config.node.name, domain: node.config.node.domain, version },
      health: { smtp, imap, disk, queue: { ...queueHealth(q), ...q } },
      transports: transports.list().map((t) => {
        const o = transports.overview(t, 1)
        return { id: o.id, peer: o.peer, kind: o.kind, schedule: o.schedule, lastRun: o.lastRun, nextRun: o.nextRuns[0] ?? null }
      }),
      clock: node.clock.report(),
    }
  })

  app.get(
    '/traffic',
    { schema: { querystring: Type.Object({ days: Type.Integer({ minimum: 1, maximum: 90, default: 14 }) }, { additionalProperties: false }), response: { 200: Traffic } } },
    async (req) => ({ days: dailyTraffic(node.db, req.query.days) }),
  )
}

export default dashboard
