// dclogin: URIs, the QR codes Delta Chat scans to set up an account with no
// typing. Format: https://github.com/deltachat/interface/blob/main/uri-schemes.md
import type { NodeConfig } from '../config/schema.js'

export function dcloginUri(config: NodeConfig, address: string, password: string): string {
  const host = config.node.host
  const q = new URLSearchParams({
    p: password,
    v: '1',
    ih: host,
    ip: String(config.ports.imap),
    is: 'starttls',
    sh: host,
    sp: String(config.ports.submission),
    ss: 'starttls',
    // The box has a self-signed certificate; without ic=3 Delta Chat refuses
    // it with a misleading "could not find your mail server".
    ic: '3',
  })
  // Percent-encode each value ourselves: URLSearchParams writes a space as
  // "+", which a URI parser may keep as a literal plus.
  const query = [...q.entries()].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')
  return `dclogin:${address}?${query}`
}
