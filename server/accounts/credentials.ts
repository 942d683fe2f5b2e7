// What a person needs to set up Delta Chat for an account: the dclogin: URI
// and its QR code. Shown once, right after the password is made: the node
// keeps only a hash and cannot show the password again.
import QRCode from 'qrcode'
import { lstatSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { NodeConfig } from '../config/schema.js'
import type { NodePaths } from '../base/paths.js'
import { dcloginUri } from './dclogin.js'
import { splitAddress } from './address.js'

export interface AccountCredentials {
  address: string
  password: string
  dclogin: string
  /** The dclogin: URI as an SVG QR code, big enough to scan off a phone screen. */
  qrSvg: string
}

/** Any text as an SVG QR code (error correction M: readable off a screen with some glare). */
export function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
}

export async function accountCredentials(config: NodeConfig, address: string, password: string): Promise<AccountCredentials> {
  const dclogin = dcloginUri(config, address, password)
  return { address, password, dclogin, qrSvg: await qrSvg(dclogin) }
}

/** Bytes of mail an account holds: its Dovecot home (mail/DOMAIN/LOCAL, see dovecot/config.ts). 0 before its first mail. */
export function mailboxBytes(paths: NodePaths, address: string): number {
  const { local, domain } = splitAddress(address)
  let total = 0
  const walk = (dir: string): void => {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      return
    }
    for (const name of names) {
      const p = join(dir, name)
      try {
        const st = lstatSync(p)
        if (st.isDirectory()) walk(p)
        else if (st.isFile()) total += st.size
      } catch {
        // A message expunged while we count is simply not counted.
      }
    }
  }
  walk(join(paths.mail, domain, local))
  return total
}
