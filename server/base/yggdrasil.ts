// Is this box on Yggdrasil, and at which address? Peers reach it over the
// HTTP transport at that address (docs/transports/http.md). Yggdrasil's
// addresses are in 200::/7: 200::/8 for a node's own address, 300::/8 for
// the /64 subnets a node may route to machines behind it.
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'

/** True for an IPv6 address in 200::/7. */
export function isYggdrasilAddress(address: string): boolean {
  if (!address.includes(':')) return false
  const first = address.split(':')[0]!
  // An address starting with "::" has 0 as its first group: not ours.
  if (!/^[0-9a-f]{1,4}$/i.test(first)) return false
  const group = parseInt(first, 16)
  return group >= 0x200 && group <= 0x3ff
}

/**
 * The box's Yggdrasil address, if an interface has one (that needs the
 * Yggdrasil service with its TUN interface; with `IfName: "none"` there is
 * none). A node address (200::/8) is preferred over a subnet one (300::/8).
 */
export function yggdrasilAddress(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string | undefined {
  const found = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv6' && !a.internal && isYggdrasilAddress(a.address))
    .map((a) => a.address)
  return found.find((a) => parseInt(a.split(':')[0]!, 16) < 0x300) ?? found[0]
}
