// The node's Internet link as settings (the `settings` table, so the CLI
// and the web admin change them without a restart):
//
//   uplink.kind        "none" | "gateway": how this node reaches the Internet
//   uplink.peer        the gateway peer (kind gateway)
//   uplink.probeSeconds how often to check whether the gateway answers
//   uplink.smarthost   on a gateway: {host, port, user, password: sealed}
//   uplink.lastOnline  when the gateway last answered (ms since 1970)
//   uplink.online      what the last probe found
//
// The smarthost password is sealed (secrets.ts) before it is stored and is
// never returned by describe(): only smarthostForDelivery() opens it, for
// Haraka's get_mx hook.
import { eq } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { settings } from '../db/schema.js'
import { sendsThroughAccount } from '../routing/internet.js'
import { openSecret, sealSecret, secretsKey } from './secrets.js'
import { OutpostError } from '../base/errors.js'

export type UplinkKind = 'none' | 'gateway' | 'account'
export const UPLINK_KINDS: readonly UplinkKind[] = ['none', 'gateway', 'account']
export const DEFAULT_PROBE_SECONDS = 30

export class UplinkError extends OutpostError {
  override name = 'UplinkError'
}

export interface SmarthostSetting {
  host: string
  port: number
  user: string
  /** Sealed with keys/secrets.key; never shown. */
  password: string
}

/** An ordinary email account as the uplink (docs/uplink.md). */
export interface AccountSetting {
  /** The account's address: mail leaves as it, and comes in to its plus-addresses. */
  address: string
  smtpHost: string
  smtpPort: number
  imapHost: string
  imapPort: number
  user: string
  /** Sealed with keys/secrets.key; never shown. */
  password: string
  /** Accept a certificate no CA vouches for (a private provider, tests). */
  insecureTls: boolean
}

export type AccountUplink = AccountSetting

/** What may be shown to a person or sent to the web admin: no secret. */
export interface UplinkView {
  kind: UplinkKind
  peer: string | null
  probeSeconds: number
  online: boolean | null
  lastOnline: number | null
  smarthost: { host: string; port: number; user: string; password: 'set' } | null
  account: (Omit<AccountSetting, 'password'> & { password: 'set' }) | null
}

const SMARTHOST_LABEL = 'uplink.smarthost.password'
const ACCOUNT_LABEL = 'uplink.account.password'

export class UplinkService {
  constructor(
    private readonly db: Db,
    private readonly keysDir: string,
  ) {}

  private get<T>(key: string): T | undefined {
    const row = this.db.select({ value: settings.value }).from(settings).where(eq(settings.key, key)).get()
    return row ? (JSON.parse(row.value) as T) : undefined
  }

  private set(key: string, value: unknown, now = Date.now()): void {
    const v = JSON.stringify(value)
    this.db.insert(settings).values({ key, value: v, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value: v, updatedAt: now } }).run()
  }

  private del(key: string): void {
    this.db.delete(settings).where(eq(settings.key, key)).run()
  }

  describe(): UplinkView {
    const s = this.get<SmarthostSetting>('uplink.smarthost')
    const a = this.get<AccountSetting>('uplink.account')
    return {
      kind: this.get<UplinkKind>('uplink.kind') ?? 'none',
      peer: this.get<string>('uplink.peer') ?? null,
      probeSeconds: this.get<number>('uplink.probeSeconds') ?? DEFAULT_PROBE_SECONDS,
      online: this.get<boolean>('uplink.online') ?? null,
      lastOnline: this.get<number>('uplink.lastOnline') ?? null,
      smarthost: s ? { host: s.host, port: s.port, user: s.user, password: 'set' } : null,
      account: a ? { ...a, password: 'set' } : null,
    }
  }

  /**
   * Sets how this node reaches the Internet. `peerExists` checks the gateway
   * is a known peer. Everything is checked before anything is stored, so a
   * refused change leaves the settings as they were.
   */
  configure(opts: { kind?: string; peer?: string; probeSeconds?: number }, peerExists: (name: string) => boolean): UplinkView {
    if (opts.kind !== undefined && !UPLINK_KINDS.includes(opts.kind as UplinkKind)) throw new UplinkError(`uplink kind "${opts.kind}" is not one of ${UPLINK_KINDS.join(', ')}`)
    if (opts.peer !== undefined && !peerExists(opts.peer)) throw new UplinkError(`"${opts.peer}" is not a peer of this node; add the gateway's card first (\`outpost peer add CARD\`)`)
    if (opts.probeSeconds !== undefined && (!Number.isInteger(opts.probeSeconds) || opts.probeSeconds < 1 || opts.probeSeconds > 86_400)) throw new UplinkError(`the probe interval must be 1 to 86400 seconds, not ${opts.probeSeconds}`)
    const before = this.describe()
    const kind = (opts.kind as UplinkKind | undefined) ?? before.kind
    if (kind === 'gateway' && !(opts.peer ?? before.peer)) throw new UplinkError('uplink kind gateway needs the gateway peer: --peer NAME')
    if (kind === 'account' && !before.account) throw new UplinkError('uplink kind account needs the account first: `outpost uplink account set ADDRESS --smtp HOST:PORT --imap HOST:PORT …`')
    if (opts.kind !== undefined) this.set('uplink.kind', opts.kind)
    if (opts.peer !== undefined) this.set('uplink.peer', opts.peer)
    if (opts.probeSeconds !== undefined) this.set('uplink.probeSeconds', opts.probeSeconds)
    return this.describe()
  }

  /** The gateway peer to probe, when the uplink is a gateway. */
  gatewayPeer(): string | undefined {
    const v = this.describe()
    return v.kind === 'gateway' && v.peer ? v.peer : undefined
  }

  /** Whether mail for domains no peer is named for leaves through an email account. */
  sendsThroughAccount(): boolean {
    return sendsThroughAccount(this.db)
  }

  setAccount(opts: Omit<AccountSetting, 'password'> & { password: string }): UplinkView {
    if (!/^[^\s@]+@[a-z0-9.-]+$/i.test(opts.address) || opts.address.includes('+')) throw new UplinkError(`"${opts.address}" is not a plain email address (without a +tag)`)
    for (const [what, host, port] of [['smtp', opts.smtpHost, opts.smtpPort], ['imap', opts.imapHost, opts.imapPort]] as const) {
      if (!/^[a-z0-9.:-]+$/i.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) throw new UplinkError(`the ${what} server "${host}:${port}" is not HOST:PORT`)
    }
    if (!opts.password) throw new UplinkError('the account needs a password (on stdin or from --password-file)')
    const key = secretsKey(this.keysDir, { create: true })
    this.set('uplink.account', { ...opts, address: opts.address.toLowerCase(), user: opts.user || opts.address, password: sealSecret(key, ACCOUNT_LABEL, opts.password) } satisfies AccountSetting)
    return this.describe()
  }

  clearAccount(): void {
    this.del('uplink.account')
    if (this.get<UplinkKind>('uplink.kind') === 'account') this.set('uplink.kind', 'none')
  }

  /** For the account uplink's run only: the account with its password opened. */
  accountForDelivery(): AccountUplink | undefined {
    const a = this.get<AccountSetting>('uplink.account')
    if (!a) return undefined
    return { ...a, password: openSecret(secretsKey(this.keysDir), ACCOUNT_LABEL, a.password) }
  }

  /** Records a probe's result; returns the change, if any, so the caller can report it once. */
  recordProbe(online: boolean, now = Date.now()): 'online' | 'offline' | null {
    const before = this.get<boolean>('uplink.online')
    if (online) this.set('uplink.lastOnline', now, now)
    if (before === online) return null
    this.set('uplink.online', online, now)
    return online ? 'online' : before === undefined ? null : 'offline'
  }

  setSmarthost(opts: { host: string; port: number; user: string; password: string }): UplinkView {
    const host = opts.host.trim()
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/i.test(host)) throw new UplinkError(`smarthost "${opts.host}" is not a host name or address`)
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new UplinkError(`smarthost port ${opts.port} is not a port number`)
    // Haraka's outbound speaks STARTTLS only, and TLS is required there.
    if (opts.port === 465) throw new UplinkError("smarthost port 465 speaks TLS from the first byte, which Haraka's outbound does not; use the relay's submission port 587 (STARTTLS)")
    if (!opts.user) throw new UplinkError('the smarthost needs a user name (--user)')
    if (!opts.password) throw new UplinkError('the smarthost needs a password (on stdin or from --password-file)')
    const key = secretsKey(this.keysDir, { create: true })
    this.set('uplink.smarthost', { host: host.replace(/^\[|\]$/g, ''), port: opts.port, user: opts.user, password: sealSecret(key, SMARTHOST_LABEL, opts.password) } satisfies SmarthostSetting)
    return this.describe()
  }

  clearSmarthost(): void {
    this.del('uplink.smarthost')
  }

  /** For Haraka's get_mx only: the smarthost with its password opened. */
  smarthostForDelivery(): { host: string; port: number; user: string; password: string } | undefined {
    const s = this.get<SmarthostSetting>('uplink.smarthost')
    if (!s) return undefined
    return { host: s.host, port: s.port, user: s.user, password: openSecret(secretsKey(this.keysDir), SMARTHOST_LABEL, s.password) }
  }
}
