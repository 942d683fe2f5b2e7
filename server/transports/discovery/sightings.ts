// Where trusted peers were last seen on the LAN (mDNS). Only sightings whose
// name AND signing-key fingerprint match a trusted peer are kept: discovery
// tells where a box is, never whom to trust. The HTTP transport prefers a
// fresh sighting over the address on the peer's card (a box that got a new
// address from the Wi-Fi is still found).
export interface Sighting {
  address: string
  port: number
  at: number
}

/** A sighting older than this is not used: the box may have moved again. */
export const SIGHTING_FRESH_MS = 10 * 60 * 1000

const seen = new Map<string, Sighting>()

export function rememberSighting(peer: string, s: Sighting): void {
  seen.set(peer, s)
}

export function freshSighting(peer: string, now = Date.now()): Sighting | undefined {
  const s = seen.get(peer)
  return s && now - s.at <= SIGHTING_FRESH_MS ? s : undefined
}
