// GET /api/clock and POST /api/clock/reset: the node's time floor, what set
// it, and a way back when a peer's bundles pushed it ahead (then honest
// requests are refused as "behind" and honest bundles as expired).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ClockReport } from './schemas.js'

const clock: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app.outpost

  app.get('/clock', { schema: { response: { 200: ClockReport } } }, async () => node.clock.report())

  // The floor becomes the time this node vouches for itself (wall clock, or
  // its own stored time plus the seconds since); what peers added is gone.
  app.post('/clock/reset', { schema: { body: Type.Optional(Type.Object({}, { additionalProperties: false })), response: { 200: ClockReport } } }, async () => node.clock.reset())
}

export default clock
