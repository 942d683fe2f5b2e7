// /api/queue: mail waiting for each peer, bundles in flight, retry and
// discard. The same Outbox as `outpost queue`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { HttpError } from '../../errors.js'
import { ErrorBody } from './schemas.js'
import { Queue, Retried } from '../../schemas.js'

const Peer = Type.String({ minLength: 1, maxLength: 64 })

const queue: FastifyPluginAsyncTypebox = async (app) => {
  const { exchange, outbox, transports } = app.outpost

  app.get('/queue', { schema: { response: { 200: Queue } } }, async () => {
    const byPeer = exchange.queue()
    const peers = [...byPeer].map(([peer, entries]) => ({
      peer,
      // lastExportAt 0 is a retry's mark: in flight, due again now.
      messages: entries.map((e) => ({ messageId: e.messageId, size: e.size, queuedAt: e.queuedAt, bundleId: e.lastBundleId, exportedAt: e.exports ? e.lastExportAt : null })),
    }))
    const all = [...byPeer.values()].flat()
    return { peers, totals: { messages: all.length, bytes: all.reduce((n, e) => n + e.size, 0) } }
  })

  app.post('/queue/:peer/retry', { schema: { params: Type.Object({ peer: Peer }), response: { 200: Retried, 404: ErrorBody } } }, async (req) => {
    const { peer } = req.params
    if (!app.outpost.peers.get(peer) && !outbox.waiting(peer).length) throw new HttpError(404, `no peer named "${peer}" and nothing queued for it`)
    const messages = outbox.resend(peer)
    const scheduler = app.outpost.scheduler
    for (const t of transports.list(peer)) {
      if (t.enabled && scheduler && !scheduler.isRunning(t.id)) void scheduler.runNow(t.id).catch((err: Error) => app.outpost.log(`transport ${t.id}: retry run failed: ${err.message}`))
    }
    app.outpost.log(`web admin: retry of ${messages} messages for ${peer}`)
    return { messages }
  })

  app.delete(
    '/queue/:peer/:messageId',
    { schema: { params: Type.Object({ peer: Peer, messageId: Type.String({ pattern: '^[0-9a-f]{64}$' }) }), response: { 204: Type.Null(), 404: ErrorBody } } },
    async (req, reply) => {
      const { peer, messageId } = req.params
      if (!outbox.discard(peer, messageId)) throw new HttpError(404, `message ${messageId.slice(0, 12)}… is not queued for ${peer}`)
      app.outpost.log(`web admin: message ${messageId} for ${peer} discarded`)
      return reply.code(204).send(null)
    },
  )
}

export default queue
