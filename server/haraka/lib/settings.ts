// Our plugins' settings, read from config/outpost.ini (rendered by
// ../config.ts). Plugins re-read them when the file changes.
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
}

export class SettingsError extends Error {
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
  }
}
