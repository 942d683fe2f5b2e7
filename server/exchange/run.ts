// What export and import share as one run of a carrier: the carrier's name
// and time as events report them, the progress a person watches, and the
// error for a folder that cannot be used, and the services both are handed.
import { OutpostError } from '../base/errors.js'
import type { NodeContext } from '../context/context.js'
import type { NodeIdentity } from '../identity/keys.js'
import type { PeerService } from '../peers/service.js'
import type { Outbox } from '../outbox/outbox.js'
import type { EventKind, OutpostEvents } from '../events/types.js'
import type { Carry } from './carry.js'

export type Progress = (done: number, total: number, what: string) => void

/** Names the carrier a bundle went or came by (`folder`, `usb`, `http`, …), as events report it. */
export interface CarrierOptions {
  via?: string
  now?: number
}

export class ExchangeError extends OutpostError {
  override name = 'ExchangeError'
}

/** The services export and import are handed (exchangeServices builds them once). */
export interface StepDeps {
  node: NodeContext
  identity: NodeIdentity
  peers: PeerService
  /** What waits for each peer; import forwards into it and releases it on acks. */
  outbox: Outbox
  /** Bundles for neighbours: taken over from sticks on import, sent first on export. */
  carry: Carry
  report<K extends EventKind>(kind: K, data: OutpostEvents[K]): void
}
