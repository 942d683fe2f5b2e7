// The carriers Outpost knows, by kind.
import type { TransportDriver } from './transport.js'
import { folderTransport } from './folder.js'
import { httpTransport } from './http.js'
import { filespoolerTransport } from './filespooler.js'
import { syncthingTransport } from './syncthing.js'
import { nncpTransport } from './nncp.js'
import { loraTransport } from './lora/transport.js'
import { classicNncpTransport } from './classic-nncp.js'
import { classicFsplTransport } from './classic-fspl.js'

// Drivers take their own config type; the registry only hands them back by name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each driver's config type differs; callers narrow by kind
const DRIVERS: TransportDriver<any>[] = [folderTransport, nncpTransport, filespoolerTransport, syncthingTransport, httpTransport, loraTransport, classicNncpTransport, classicFsplTransport]

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as DRIVERS: the kind decides the config type
export function driverFor(kind: string): TransportDriver<any> | undefined {
  return DRIVERS.find((d) => d.kind === kind)
}

export function driverKinds(): string[] {
  return DRIVERS.map((d) => d.kind)
}
