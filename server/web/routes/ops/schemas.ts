// Schemas and error mapping shared by the operations routes.
import { Type } from '@sinclair/typebox'
import { HttpError } from '../../errors.js'
import { PeerError } from '../../../peers/service.js'
import { CardError } from '../../../identity/card.js'
import { TransportConfigError } from '../../../transports/transport.js'
import { StickError } from '../../../appliance/sticks.js'
import { ExchangeError } from '../../../exchange/exchange.js'

export { ErrorBody } from '../../schemas.js'

export const Check = Type.Object({ ok: Type.Boolean(), detail: Type.String() })

/** The node's clock (base/clock.ts ClockReport): times in ms since the epoch. */
export const ClockReport = Type.Object({
  now: Type.Number(),
  wall: Type.Number(),
  floor: Type.Number(),
  vouched: Type.Number(),
  behindMs: Type.Number(),
  peerLeadMs: Type.Number(),
  leadLimitMs: Type.Number(),
  source: Type.Union([Type.Object({ kind: Type.Union([Type.Literal('evidence'), Type.Literal('peer'), Type.Literal('reset')]), peer: Type.Optional(Type.String()), at: Type.Number() }), Type.Null()]),
})

export const Run = Type.Object({
  id: Type.Integer(),
  startedAt: Type.Number(),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
  ok: Type.Union([Type.Boolean(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  bytesOut: Type.Number(),
  bytesIn: Type.Number(),
  /** One line on what the run carried, e.g. "sent 3 messages … imported 1 of 1 bundles". */
  detail: Type.Union([Type.String(), Type.Null()]),
})

export const TransportSummary = Type.Object({
  id: Type.Integer(),
  peer: Type.String(),
  kind: Type.String(),
  schedule: Type.String(),
  lastRun: Type.Union([Run, Type.Null()]),
  nextRun: Type.Union([Type.Number(), Type.Null()]),
})

/**
 * Runs a service call; an error a person caused (a bad card, an unknown
 * peer, a cron typo, a path that is no stick) becomes a 4xx with the
 * service's own message, which says what to do.
 */
export async function asked<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof StickError) throw new HttpError(err.statusCode, err.message)
    if (err instanceof PeerError || err instanceof CardError || err instanceof TransportConfigError || err instanceof ExchangeError) throw new HttpError(400, err.message)
    throw err
  }
}
