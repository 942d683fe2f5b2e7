// GET /api/health: 200 once SMTP, IMAP and the database all answer, 503
// otherwise. Disk is reported but does not make the node unhealthy by itself.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

const Part = Type.Object({ ok: Type.Boolean(), detail: Type.String() })
const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  smtp: Part,
  imap: Part,
  db: Part,
  disk: Type.Object({ ok: Type.Boolean(), detail: Type.String(), freeBytes: Type.Number(), totalBytes: Type.Number() }),
})

const health: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', { schema: { response: { 200: Health, 503: Health } } }, async (_req, reply) => {
    const [smtp, imap, db, disk] = await Promise.all([app.health.smtp(), app.health.imap(), app.health.db(), app.health.disk()])
    const ok = smtp.ok && imap.ok && db.ok
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', smtp, imap, db, disk })
  })
}

export default health
