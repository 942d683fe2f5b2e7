// The node's services, handed to the web admin's routes as `app.outpost`.
// The routes stay thin: every change goes through the same services the CLI
// uses, so the two never disagree.
import fp from 'fastify-plugin'
import type { NodeContext } from '../../context/context.js'
import { EventBus, EventLog } from '../../events/log.js'
import type { PeerService } from '../../peers/service.js'
import { TransportService } from '../../transports/service.js'
import type { TransportScheduler } from '../../transports/scheduler.js'
import type { Outbox } from '../../outbox/outbox.js'
import { Exchange, exchangeServices } from '../../exchange/exchange.js'

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
  /** Which LoRa transports keep their radio open between runs; absent when no listener runs (tests, the CLI). */
  radios?: { listening(): number[] }
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

/** The services of an opened node; `outpost start` adds its scheduler, tests leave it out. */
export function createWebServices(
  node: NodeContext,
  opts: { exchange?: Exchange; transports?: TransportService; scheduler?: TransportScheduler; radios?: { listening(): number[] }; bus?: EventBus; events?: EventLog; log?: (line: string) => void } = {},
): WebServices {
  const bus = opts.bus ?? new EventBus()
  const events = opts.events ?? new EventLog(node.db, bus)
  const log = opts.log ?? (() => undefined)
  const exchange = opts.exchange ?? new Exchange(node, exchangeServices(node, { events, log }))
  return {
    node,
    events,
    bus,
    peers: exchange.peers,
    transports: opts.transports ?? new TransportService(node.db, (name) => exchange.peers.get(name) !== undefined),
    outbox: exchange.outbox,
    exchange,
    ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
    ...(opts.radios ? { radios: opts.radios } : {}),
    log,
  }
}
