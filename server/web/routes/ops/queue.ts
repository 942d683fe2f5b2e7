// /api/queue: mail waiting for each peer (counts and sums from SQL), the
// waiting messages a page at a time with a cursor, retry and discard. The
// same queries as `outpost queue`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { HttpError } from '../../errors.js'
import { ErrorBody } from './schemas.js'
import { Queue, QueueParams, Retried } from '../../schemas.js'
import { countWaiting, CursorError, DEFAULT_PAGE, MAX_PAGE, outboxTotals, peerHolds, peerTotals, queuePage } from '../../../outbox/queue-query.js'
import { holdFor, peerHoldNote, type CarrierWidth } from '../../../outbox/link-width.js'

// The contract's page bounds are the outbox's own.
if (QueueParams.properties.limit.maximum !== MAX_PAGE || QueueParams.properties.limit.default !== DEFAULT_PAGE) {
  throw new Error('the queue page bounds of the API contract and of the outbox differ')
}
const Peer = Type.String({ minLength: 1, maxLength: 64 })

const queue: FastifyPluginAsyncTypebox = async (app) => {
  const { outbox, transports } = app.outpost

  app.get('/queue', { schema: { querystring: QueueParams, response: { 200: Queue, 400: ErrorBody } } }, async (req) => {
    const perPeer = peerTotals(app.outpost.node.db)
    const totals = outboxTotals(perPeer)
    let page
    try {
      page = queuePage(app.outpost.node.db, req.query)
    } catch (err) {
      if (err instanceof CursorError) throw new HttpError(400, err.message)
      throw err
    }
    // Which carriers reach each peer, and how wide: what a hold is explained by.
    const widths = new Map<string, CarrierWidth[]>()
    const widthsOf = (peer: string) => widths.get(peer) ?? widths.set(peer, transports.widths(peer)).get(peer)!
    const peers = perPeer.map((p) => {
      const holds = peerHolds(app.outpost.node.db, p.peer, widthsOf(p.peer))
      return { ...p, held: holds.held, heldOnlyNarrow: holds.onlyNarrow, holdNote: peerHoldNote(p.peer, holds, widthsOf(p.peer)) }
    })
    const items = page.items.map((e) => ({
      messageId: e.messageId,
      peer: e.peer,
      size: e.size,
      queuedAt: e.queuedAt,
      exports: e.exports,
      bundleId: e.lastBundleId,
      exportedAt: e.lastExportAt,
      via: e.lastVia,
      held: holdFor(e.peer, e.size, widthsOf(e.peer)),
    }))
    return { peers, totals: { messages: totals.messages, bytes: totals.bytes }, items, next: page.next }
  })

  app.post('/queue/:peer/retry', { schema: { params: Type.Object({ peer: Peer }), response: { 200: Retried, 404: ErrorBody } } }, async (req) => {
    const { peer } = req.params
    if (!app.outpost.peers.get(peer) && !countWaiting(app.outpost.node.db, peer)) throw new HttpError(404, `no peer named "${peer}" and nothing queued for it`)
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
