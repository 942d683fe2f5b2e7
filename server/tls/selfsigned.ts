// The node's self-signed TLS certificate, made once at `init`. Phones accept
// it because the dclogin: QR carries ic=3 (accept invalid certificates).
import { mkdirSync, chmodSync } from 'node:fs'
import { isIP } from 'node:net'
import type { Exec } from '../exec.js'
import { execOk } from '../exec.js'

export async function makeSelfSignedCert(run: Exec, opts: { keyPath: string; certPath: string; domain: string; host: string; dir: string }): Promise<void> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o750 })
  const names = new Set([`DNS:${opts.domain}`, 'DNS:outpost.local', 'DNS:localhost', 'IP:127.0.0.1'])
  names.add(isIP(opts.host) ? `IP:${opts.host}` : `DNS:${opts.host}`)
  // P-256 ECDSA: small and fast on a Raspberry Pi, accepted by every TLS stack
  // Delta Chat uses. Ten years, because nobody renews a box in a tent.
  await execOk(run, 'openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650',
    '-subj', `/CN=${opts.domain}`, '-addext', `subjectAltName=${[...names].join(',')}`,
    '-keyout', opts.keyPath, '-out', opts.certPath,
  ])
  chmodSync(opts.keyPath, 0o600)
}
