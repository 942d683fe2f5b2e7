// Whether this node hands mail for the Internet on itself: a gateway does
// ([gateway] enabled), and so does a node whose uplink is an email account
// (`outpost uplink kind account`, with the account set). Written once, here:
// Haraka's policy and delivery plugins and the bundle import all ask it, so
// what RCPT accepts and where the message then goes cannot disagree.
import type { Db } from '../db/index.js'
import { getSetting } from '../db/settings.js'

/** Whether mail for domains no peer is named for leaves through an email account. */
export function sendsThroughAccount(db: Db): boolean {
  return getSetting<string>(db, 'uplink.kind') === 'account' && getSetting<unknown>(db, 'uplink.account') !== undefined
}

/** Whether the Internet is a way out for this node: what nextHop's `gateway` is. */
export function reachesInternet(gatewayEnabled: boolean, db: Db): boolean {
  return gatewayEnabled || sendsThroughAccount(db)
}
