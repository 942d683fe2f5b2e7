// Mail addresses as Outpost accepts them for its own accounts.
import { OutpostError } from '../base/errors.js'
export class AddressError extends OutpostError {
  override name = 'AddressError'
}

const LOCAL = /^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9])?$/
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

export function normaliseAddress(address: string): string {
  return address.trim().toLowerCase()
}

export function splitAddress(address: string): { local: string; domain: string } {
  const a = normaliseAddress(address)
  const at = a.lastIndexOf('@')
  if (at <= 0 || at === a.length - 1) throw new AddressError(`"${address}" is not a mail address (expected user@domain)`)
  const local = a.slice(0, at)
  const domain = a.slice(at + 1)
  if (!LOCAL.test(local)) throw new AddressError(`"${address}": the part before @ may use letters, digits and . _ + - only`)
  if (!DOMAIN.test(domain)) throw new AddressError(`"${address}": "${domain}" is not a valid domain`)
  return { local, domain }
}
