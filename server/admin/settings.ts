// The settings a person changes from the web admin, one service for the web
// and the CLI. Each setting lives where the part that uses it reads it:
// - outpost.toml (node name and domain, limits, retention, hotspot): read by
//   `outpost start` and the appliance layer. The file is rewritten from the
//   file's own values (never the environment's overrides) with the config
//   renderer, so every key keeps its documentation.
// - the settings table (first-login creation): read on each request.
// What the running node cannot take up at once is named in `restartNeeded`.
import { readFileSync } from 'node:fs'
import { parse } from 'smol-toml'
import { ConfigError, configFromObject, loadConfig, saveConfig } from '../config/file.js'
import type { NodeConfig } from '../config/schema.js'
import type { NodeContext } from '../context/context.js'
import { firstLoginEnabled, setFirstLogin } from '../accounts/invites.js'
import { isNodeName } from '../identity/name.js'
import { splitAddress } from '../accounts/address.js'
import { channelMode, checkPassphrase, checkSsid, HotspotError, planHotspot } from '../appliance/hotspot.js'
import { OutpostError } from '../base/errors.js'

export class SettingsError extends OutpostError {
  override name = 'SettingsError'
  constructor(
    message: string,
    readonly statusCode = 400,
  ) {
    super(message)
  }
}

export interface AdminSettings {
  node: { name: string; domain: string }
  limits: { messageBytes: number; perMinute: number; burst: number }
  retention: { days: number; largeDays: number }
  firstLogin: { enabled: boolean }
  /** The passphrase itself is never shown: only whether one is set. */
  hotspot: { ssid: string; passphraseSet: boolean; channel: number }
}

export interface SettingsPatch {
  node?: { name?: string; domain?: string }
  limits?: { messageBytes?: number; perMinute?: number; burst?: number }
  retention?: { days?: number; largeDays?: number }
  firstLogin?: { enabled?: boolean }
  hotspot?: { ssid?: string; passphrase?: string; channel?: number }
}

/** Where each web setting sits in outpost.toml. */
const TOML_KEYS = {
  'node.name': ['node', 'name'],
  'node.domain': ['node', 'domain'],
  'limits.messageBytes': ['limits', 'max_message_bytes'],
  'limits.perMinute': ['limits', 'send_per_minute'],
  'limits.burst': ['limits', 'send_burst'],
  'retention.days': ['mail', 'expiry_days'],
  'retention.largeDays': ['mail', 'large_expiry_days'],
  'hotspot.ssid': ['hotspot', 'ssid'],
  'hotspot.passphrase': ['hotspot', 'passphrase'],
  'hotspot.channel': ['hotspot', 'channel'],
} as const

/** Changes that apply only when the named part restarts. Retention is read at each hourly expiry run, so it needs none. */
const RESTART: Record<string, string> = {
  'node.name': 'node: the name is on the card, the LAN announcement and new bundles (restart outpost)',
  'node.domain': 'node: the domain of every service (restart outpost)',
  'limits.messageBytes': 'limits: SMTP reads them at start (restart outpost)',
  'limits.perMinute': 'limits: SMTP reads them at start (restart outpost)',
  'limits.burst': 'limits: SMTP reads them at start (restart outpost)',
  'hotspot.ssid': 'hotspot: outpost-hotspot.path applies it on the box within seconds (phones reconnect)',
  'hotspot.passphrase': 'hotspot: outpost-hotspot.path applies it on the box within seconds (phones reconnect)',
  'hotspot.channel': 'hotspot: outpost-hotspot.path applies it on the box within seconds (phones reconnect)',
}

function view(config: NodeConfig, firstLogin: boolean): AdminSettings {
  return {
    node: { name: config.node.name, domain: config.node.domain },
    limits: { messageBytes: config.limits.max_message_bytes, perMinute: config.limits.send_per_minute, burst: config.limits.send_burst },
    retention: { days: config.mail.expiry_days, largeDays: config.mail.large_expiry_days },
    firstLogin: { enabled: firstLogin },
    hotspot: { ssid: config.hotspot.ssid, passphraseSet: config.hotspot.passphrase !== '', channel: config.hotspot.channel },
  }
}

export class SettingsService {
  constructor(private readonly node: NodeContext) {}

  /** The settings as they stand in the file now (changes waiting for a restart included). */
  get(): AdminSettings {
    return view(loadConfig(this.node.paths.config).config, firstLoginEnabled(this.node.db))
  }

  update(patch: SettingsPatch): AdminSettings & { restartNeeded: string[] } {
    const file = this.node.paths.config
    const doc = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>
    const before = configFromObject(doc, {}, file).config
    const changed: string[] = []
    for (const [area, values] of Object.entries(patch) as [string, Record<string, unknown> | undefined][]) {
      if (area === 'firstLogin' || !values) continue
      for (const [name, value] of Object.entries(values)) {
        if (value === undefined) continue
        const where = TOML_KEYS[`${area}.${name}` as keyof typeof TOML_KEYS]
        if (!where) throw new SettingsError(`${area}.${name} is not a setting`)
        const [section, key] = where
        if ((before[section] as Record<string, unknown>)[key] === value) continue
        this.check(`${area}.${name}`, value)
        ;(doc[section] ??= {})[key] = value
        changed.push(`${area}.${name}`)
      }
    }
    let after: NodeConfig
    try {
      after = configFromObject(doc, {}, file).config
    } catch (err) {
      if (err instanceof ConfigError) throw new SettingsError(err.message)
      throw err
    }
    // A hotspot that is on must still make a whole plan (country, address range…):
    // `outpost hotspot apply`, run by outpost-hotspot.path when this file
    // changes, would refuse it and leave the Wi-Fi as it was.
    if (after.hotspot.enabled) {
      try {
        planHotspot(after.hotspot)
      } catch (err) {
        if (err instanceof HotspotError) throw new SettingsError(err.message.replace(/^\[hotspot\] /, 'hotspot.'))
        throw err
      }
    }
    if (after.mail.large_expiry_days > after.mail.expiry_days) throw new SettingsError(`retention.largeDays (${after.mail.large_expiry_days}) must not be longer than retention.days (${after.mail.expiry_days})`)
    if (changed.length) saveConfig(file, after)
    // Retention is read by the hourly expiry run from the node's config: it applies at once.
    this.node.config.mail.expiry_days = after.mail.expiry_days
    this.node.config.mail.large_expiry_days = after.mail.large_expiry_days
    if (patch.firstLogin?.enabled !== undefined) setFirstLogin(this.node.db, patch.firstLogin.enabled)
    return { ...this.get(), restartNeeded: [...new Set(changed.map((k) => RESTART[k]).filter((x): x is string => x !== undefined))] }
  }

  private check(key: string, value: unknown): void {
    try {
      switch (key) {
        case 'node.name':
          if (!isNodeName(value)) throw new SettingsError(`node.name "${String(value)}": a node name is lower-case letters and digits, parts joined by . or -`)
          return
        case 'node.domain':
          splitAddress(`postmaster@${String(value)}`)
          if (this.node.accounts.count() > 0) throw new SettingsError(`node.domain: this node has accounts at ${this.node.config.node.domain}; changing the domain would cut them off. Remove them first, or set up a new node`, 409)
          return
        case 'hotspot.ssid':
          return checkSsid(String(value))
        case 'hotspot.passphrase':
          return checkPassphrase(String(value))
        case 'hotspot.channel':
          channelMode(Number(value))
          return
      }
    } catch (err) {
      if (err instanceof HotspotError || (err as Error).name === 'AddressError') throw new SettingsError((err as Error).message.replace(/^\[hotspot\] /, 'hotspot.'))
      throw err
    }
  }
}
