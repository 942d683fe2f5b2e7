// Turning the services' errors into answers. A service error that carries a
// statusCode already says what went wrong; the others are mapped here.
import { AccountError } from '../accounts/service.js'
import { AddressError } from '../accounts/address.js'

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message)
  }
}

/** Runs fn; an error a person caused (a bad address, a weak password) becomes a 400 with its message. */
export async function asBadRequest<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof AccountError || err instanceof AddressError) throw new HttpError(400, err.message)
    throw err
  }
}
