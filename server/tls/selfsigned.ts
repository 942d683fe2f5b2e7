// The node's self-signed TLS certificate, made once at `init`. Phones accept
// it because the dclogin: QR carries ic=3 (accept invalid certificates).
import { mkdirSync, chmodSync } from 'node:fs'
import { isIP } from 'node:net'
import type { Exec } from '../base/exec.js'
import { execOk } from '../base/exec.js'

/** Ten years, because nobody renews a box in a tent. */
export const CERT_DAYS = 3650
const DAY_MS = 24 * 60 * 60 * 1000

/**
 * openssl counts validity from the wall clock. When the wall clock is behind
 * the node's clock (a Pi that booted at 1970, or at its last shutdown),
 * the certificate still starts at the wall clock (earlier is harmless) but
 * is given the days it would otherwise lose, so it ends ten years after the
 * node's now() and is not already expired when the clock is set right.
 */
export function certDays(nodeNow: number, wall: number): number {
  return CERT_DAYS + Math.ceil(Math.max(0, nodeNow - wall) / DAY_MS)
}

export async function makeSelfSignedCert(
  run: Exec,
  opts: { keyPath: string; certPath: string; domain: string; host: string; dir: string; now?: number; wall?: number },
): Promise<void> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o750 })
  const names = new Set([`DNS:${opts.domain}`, 'DNS:outpost.local', 'DNS:localhost', 'IP:127.0.0.1'])
  names.add(isIP(opts.host) ? `IP:${opts.host}` : `DNS:${opts.host}`)
  // P-256 ECDSA: small and fast on a Raspberry Pi, accepted by every TLS stack
  // Delta Chat uses.
  const wall = opts.wall ?? Date.now()
  const days = certDays(opts.now ?? wall, wall)
  await execOk(run, 'openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days),
    '-subj', `/CN=${opts.domain}`, '-addext', `subjectAltName=${[...names].join(',')}`,
    '-keyout', opts.keyPath, '-out', opts.certPath,
  ])
  chmodSync(opts.keyPath, 0o600)
}
