// The pin of a web server's TLS key: SHA256:<base64> of its public key
// (SubjectPublicKeyInfo, DER), in the style of the other fingerprints. It is
// the key that is pinned, not the certificate, so a certificate re-issued
// for the same key (a new host name, a longer life) keeps its pin.
import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'

export const TLS_PIN = /^SHA256:[A-Za-z0-9+/]{43}$/

export function spkiPin(cert: X509Certificate): string {
  const der = cert.publicKey.export({ type: 'spki', format: 'der' })
  return `SHA256:${createHash('sha256').update(der).digest('base64').replace(/=+$/, '')}`
}

/** The pin of the certificate in a PEM file (the node's own, made by `init`). */
export function spkiPinOfFile(certPath: string): string {
  return spkiPin(new X509Certificate(readFileSync(certPath)))
}
