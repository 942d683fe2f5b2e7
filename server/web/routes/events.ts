// /api/events (the activity log, newest first) and /api/ws (each new event
// as it happens). The websocket checks the session when it opens and before
// each event it sends, without ever extending it: a dashboard left open
// must not keep the admin logged in.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { EventKind } from '../../events/types.js'
import { Event, EventQuery, type AnyEvent } from '../schemas.js'

/** Close code for "the session ended": the page then shows the login. */
export const WS_SESSION_ENDED = 4401
const SESSION_CHECK_MS = 60_000

const events: FastifyPluginAsyncTypebox = async (app) => {
  const { events: log, bus } = app.outpost

  app.get(
    '/events',
    {
      schema: {
        querystring: EventQuery,
        response: { 200: Type.Array(Event) },
      },
    },
    // Each stored row was recorded through the bus, whose emit ties data to kind.
    async (req) => log.recent({ before: req.query.before, kinds: req.query.kinds?.split(',') as EventKind[] | undefined, limit: req.query.limit ?? 100 }) as AnyEvent[],
  )

  app.get('/ws', { websocket: true }, (socket, req) => {
    const session = req.adminSession
    if (!session) {
      socket.close(WS_SESSION_ENDED, 'log in first')
      return
    }
    let timer: NodeJS.Timeout | undefined
    let off = (): void => undefined
    const stop = () => {
      off()
      clearInterval(timer)
    }
    const end = (): boolean => {
      if (app.adminAuth.stillLive(session)) return false
      stop()
      socket.close(WS_SESSION_ENDED, 'the session has ended; log in again')
      return true
    }
    off = bus.on((ev) => {
      if (!end()) socket.send(JSON.stringify(ev))
    })
    // A quiet dashboard learns of the end too, within a minute.
    timer = setInterval(end, SESSION_CHECK_MS)
    timer.unref()
    socket.on('close', stop)
    // The page sends nothing; anything it does send is ignored.
    socket.on('message', () => undefined)
  })
}

export default events
