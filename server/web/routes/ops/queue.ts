// /api/queue: mail waiting for each peer (counts and sums from SQL), the
// waiting messages a page at a time with a cursor, retry and discard. The
// same queries as `outpost queue`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { HttpError } from '../../errors.js'
import { ErrorBody } from './schemas.js'
import { countWaiting, CursorError, DEFAULT_PAGE, MAX_PAGE, outboxTotals, peerTotals, queuePage } from '../../../outbox/queue-query.js'

const Waiting = Type.Object({
  messageId: Type.String(),
  peer: Type.String(),
  size: Type.Integer(),
  queuedAt: Type.Number(),
  /** How often it left, by any carrier. */
  exports: Type.Integer(),
  /** The bundle that last carried it; null while it was never exported. */
  bundleId: Type.Union([Type.String(), Type.Null()]),
  /** When it last left (0: a retry marked it due again); null while it never left. */
  exportedAt: Type.Union([Type.Number(), Type.Null()]),
  /** The carrier it last left by: folder, usb, http, nncp, …; null while it never left. */
  via: Type.Union([Type.String(), Type.Null()]),
})
const Queue = Type.Object({
  /** What waits for each peer: SQL aggregates, whatever the page. */
  peers: Type.Array(Type.Object({ peer: Type.String(), messages: Type.Integer(), bytes: Type.Number(), oldestAt: Type.Number() })),
  totals: Type.Object({ messages: Type.Integer(), bytes: Type.Number() }),
  /** One page of the waiting messages, oldest first: of `peer` when given, else of all peers. */
  items: Type.Array(Waiting),
  /** Pass as `after` for the next page; null on the last. */
  next: Type.Union([Type.String(), Type.Null()]),
})
const QueueQuery = Type.Object({
  peer: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
})
const Peer = Type.String({ minLength: 1, maxLength: 64 })

const queue: FastifyPluginAsyncTypebox = async (app) => {
  const { outbox, transports } = app.outpost

  app.get('/queue', { schema: { querystring: QueueQuery, response: { 200: Queue, 400: ErrorBody } } }, async (req) => {
    const perPeer = peerTotals(app.outpost.node.db)
    const totals = outboxTotals(perPeer)
    let page
    try {
      page = queuePage(app.outpost.node.db, req.query)
    } catch (err) {
      if (err instanceof CursorError) throw new HttpError(400, err.message)
      throw err
    }
    const items = page.items.map((e) => ({ messageId: e.messageId, peer: e.peer, size: e.size, queuedAt: e.queuedAt, exports: e.exports, bundleId: e.lastBundleId, exportedAt: e.lastExportAt, via: e.lastVia }))
    return { peers: perPeer, totals: { messages: totals.messages, bytes: totals.bytes }, items, next: page.next }
  })

  app.post('/queue/:peer/retry', { schema: { params: Type.Object({ peer: Peer }), response: { 200: Type.Object({ messages: Type.Integer() }), 404: ErrorBody } } }, async (req) => {
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
