// What export and import share as one run of a carrier: the carrier's name
// and time as events report them, the progress a person watches, and the
// error for a folder that cannot be used.
import { OutpostError } from '../base/errors.js'

export type Progress = (done: number, total: number, what: string) => void

/** Names the carrier a bundle went or came by (`folder`, `usb`, `http`, …), as events report it. */
export interface CarrierOptions {
  via?: string
  now?: number
}

export class ExchangeError extends OutpostError {
  override name = 'ExchangeError'
}
