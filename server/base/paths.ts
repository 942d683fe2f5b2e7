// Where everything of one node lives inside its data directory.
import { join, resolve } from 'node:path'

export interface NodePaths {
  data: string
  config: string
  db: string
  tlsDir: string
  tlsKey: string
  tlsCert: string
  mail: string
  run: string
  log: string
  harakaDir: string
  harakaQueue: string
  dovecotDir: string
  dovecotConf: string
  dovecotBase: string
  lmtpSocket: string
  /** The node's long-term keys (0700): whoever holds them can speak for the node to its peers. */
  keysDir: string
  /** Ed25519 signing key, PKCS8 PEM (0600). */
  signKey: string
  /** age X25519 identity, AGE-SECRET-KEY-1… (0600). */
  ageKey: string
  /** The age recipient (age1…) of ageKey, kept beside it so loading needs no async derivation. */
  ageRecipient: string
  /** Messages waiting for a peer, one file per stable message id. */
  spool: string
  /** Bundles and messages refused on import, each beside a file saying why. */
  quarantine: string
  /** Sealed bundles for other nodes, taken over from a stick to be carried on unopened. */
  relay: string
  /** The one-time code that claims the box's web admin (0600); gone once an admin password is set. */
  setupCode: string
}

export const SYSTEM_DATA_DIR = '/var/lib/outpost'

/** --data, then $OUTPOST_DATA, then the system data dir. */
export function resolveDataDir(flag?: string): string {
  return resolve(flag ?? process.env.OUTPOST_DATA ?? SYSTEM_DATA_DIR)
}

export function nodePaths(data: string): NodePaths {
  const d = resolve(data)
  const run = join(d, 'run')
  const dovecotBase = join(run, 'dovecot')
  return {
    data: d,
    config: join(d, 'outpost.toml'),
    db: join(d, 'outpost.db'),
    tlsDir: join(d, 'tls'),
    tlsKey: join(d, 'tls', 'key.pem'),
    tlsCert: join(d, 'tls', 'cert.pem'),
    mail: join(d, 'mail'),
    run,
    log: join(d, 'log'),
    harakaDir: join(d, 'haraka'),
    harakaQueue: join(d, 'haraka', 'queue'),
    dovecotDir: join(d, 'dovecot'),
    dovecotConf: join(d, 'dovecot', 'dovecot.conf'),
    dovecotBase,
    lmtpSocket: join(dovecotBase, 'lmtp'),
    spool: join(d, 'spool'),
    quarantine: join(d, 'quarantine'),
    relay: join(d, 'relay'),
    setupCode: join(d, 'setup-code'),
    keysDir: join(d, 'keys'),
    signKey: join(d, 'keys', 'sign.pem'),
    ageKey: join(d, 'keys', 'age.key'),
    ageRecipient: join(d, 'keys', 'age.pub'),
  }
}
