// The node's services, handed to the web admin's routes as `app.outpost`.
// The routes stay thin: every change goes through the same services the CLI
// uses, so the two never disagree.
import fp from 'fastify-plugin'
import type { NodeContext } from '../../node/context.js'
import type { EventBus, EventLog } from '../../events/log.js'
import type { PeerService } from '../../peers/service.js'
import type { TransportService } from '../../transports/service.js'
import type { TransportScheduler } from '../../transports/scheduler.js'
import type { Outbox } from '../../outbox/outbox.js'
import type { Exchange } from '../../exchange/exchange.js'

export interface WebServices {
  node: NodeContext
  /** Record events (stored, and seen by every process through the table). */
  events: EventLog
  /** Live events of this process, fed by `events.tail(bus)`. */
  bus: EventBus
  peers: PeerService
  transports: TransportService
  outbox: Outbox
  exchange: Exchange
  /** Runs transports now; absent when the node runs no scheduler (tests, the CLI). */
  scheduler?: TransportScheduler
  /** The node's log line. */
  log: (line: string) => void
}

declare module 'fastify' {
  interface FastifyInstance {
    outpost: WebServices
  }
}

export default fp<{ services: WebServices }>(
  async (app, opts) => {
    app.decorate('outpost', opts.services)
  },
  { name: 'outpost-services' },
)
