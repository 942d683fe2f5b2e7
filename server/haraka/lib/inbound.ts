// Which SMTP sessions are the Internet delivering to a gateway: a client of
// the inbound port that has not logged in. Only those go without AUTH, and
// only those are checked for SPF and DKIM.
import { normaliseAddress } from '../../accounts/address.js'
import type { Connection } from './haraka-api.js'
import type { GatewaySettings } from './settings.js'

/** The account a client logged in as, or null. */
export function authUser(connection: Connection): string | null {
  const user = connection.notes.auth_user
  return connection.relaying && typeof user === 'string' && user ? normaliseAddress(user) : null
}

export function isInbound(connection: Connection, gateway: GatewaySettings): boolean {
  return gateway.enabled && connection.local.port === gateway.inboundPort && !authUser(connection)
}
