// Schemas and error mapping shared by the operations routes.
import { HttpError } from '../../errors.js'
import { PeerError } from '../../../peers/service.js'
import { CardError } from '../../../identity/card.js'
import { TransportConfigError } from '../../../transports/transport.js'
import { StickError } from '../../../appliance/sticks.js'
import { ExchangeError } from '../../../exchange/run.js'

export { Check, ClockReport, ErrorBody, Run, TransportSummary } from '../../schemas.js'

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
