// Our plugins' settings, read from config/outpost.ini (rendered by
// ../config.ts). Plugins re-read them when the file changes.
import { OutpostError } from '../../base/errors.js'
export interface OutpostSettings {
  db: string
  domains: string[]
  lmtpSocket: string
  mailDir: string
  /** The outbox's message files (mail for peers). */
  spoolDir: string
  /** Our name in LHLO and in replies. */
  hostname: string
  lmtpTimeoutMs: number
  /** Where Haraka writes its pid; absent: nowhere. */
  pidFile: string | undefined
  maxMessageBytes: number
  sendPerMinute: number
  sendBurst: number
  maxRecipients: number
  /** Free bytes the data dir keeps: below them, mail gets 452, not a 250 (outpost.toml [storage] min_free_mb). */
  minFreeBytes: number
  /** outpost.toml [gateway]; absent from an outpost.ini of a node that is no gateway. */
  gateway: GatewaySettings
}

export interface GatewaySettings {
  enabled: boolean
  /** The port Internet clients deliver to without AUTH; 0 when not a gateway. */
  inboundPort: number
  inboundDomains: string[]
  inboundPerMinute: number
  inboundBurst: number
  /** DOMAIN=HOST:PORT pairs (route.ts parseStaticMx). */
  staticMx: string
  /** The node's keys dir: the smarthost password is opened with keys/secrets.key. */
  keysDir: string
  /** How long the SPF and DKIM checks of one inbound message may wait for DNS before the result is "temperror". */
  authTimeoutMs: number
}

export class SettingsError extends OutpostError {
  override name = 'SettingsError'
}

type Ini = Record<string, Record<string, unknown> | undefined>

function str(ini: Ini, section: string, key: string): string {
  const v = ini[section]?.[key]
  if (v === undefined || v === null || String(v).trim() === '') throw new SettingsError(`outpost.ini: [${section}] ${key} is missing`)
  return String(v).trim()
}

function int(ini: Ini, section: string, key: string, min: number): number {
  const raw = str(ini, section, key)
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) throw new SettingsError(`outpost.ini: [${section}] ${key} must be a whole number of at least ${min}, got ${JSON.stringify(raw)}`)
  return n
}

/** Checks the parsed ini (as haraka-config returns it) and names any bad key. */
export function parseSettings(ini: Ini): OutpostSettings {
  return {
    db: str(ini, 'main', 'db'),
    domains: str(ini, 'main', 'domains')
      .split(',')
      .map((d) => d.trim().toLowerCase())
      .filter(Boolean),
    lmtpSocket: str(ini, 'main', 'lmtp_socket'),
    mailDir: str(ini, 'main', 'mail_dir'),
    spoolDir: str(ini, 'main', 'spool_dir'),
    hostname: str(ini, 'main', 'hostname'),
    lmtpTimeoutMs: int(ini, 'main', 'lmtp_timeout_seconds', 1) * 1000,
    pidFile: ini.main?.pid_file ? String(ini.main.pid_file).trim() : undefined,
    maxMessageBytes: int(ini, 'limits', 'max_message_bytes', 1),
    sendPerMinute: int(ini, 'limits', 'send_per_minute', 1),
    sendBurst: int(ini, 'limits', 'send_burst', 1),
    maxRecipients: int(ini, 'limits', 'max_recipients', 1),
    // An outpost.ini rendered before the floor existed has none: keep 64 MiB, the default.
    minFreeBytes: ini.limits?.min_free_bytes === undefined ? 64 * 1024 * 1024 : int(ini, 'limits', 'min_free_bytes', 0),
    gateway: parseGateway(ini),
  }
}

function parseGateway(ini: Ini): GatewaySettings {
  const g = ini.gateway
  const on = g?.enabled === true || String(g?.enabled ?? '').trim() === 'true'
  if (!on) return { enabled: false, inboundPort: 0, inboundDomains: [], inboundPerMinute: 1, inboundBurst: 1, staticMx: '', keysDir: '', authTimeoutMs: 0 }
  return {
    enabled: true,
    inboundPort: int(ini, 'gateway', 'inbound_port', 1),
    inboundDomains: String(g?.inbound_domains ?? '')
      .split(/[,\s]+/)
      .map((d) => d.trim().toLowerCase())
      .filter(Boolean),
    inboundPerMinute: int(ini, 'gateway', 'inbound_per_minute', 1),
    inboundBurst: int(ini, 'gateway', 'inbound_burst', 1),
    staticMx: String(g?.static_mx ?? '').trim(),
    keysDir: str(ini, 'gateway', 'keys_dir'),
    // Absent from an outpost.ini rendered before it existed: the default of config.ts.
    authTimeoutMs: (g?.auth_timeout_seconds === undefined ? 10 : int(ini, 'gateway', 'auth_timeout_seconds', 1)) * 1000,
  }
}
