// The node's configuration: one typed schema with a default and a line of
// documentation for every key. The sample file, validation, unknown-key
// warnings and environment overrides are all derived from this table.
import { networkInterfaces } from 'node:os'

export interface NodeConfig {
  node: { name: string; domain: string; host: string }
  listen: { address: string; mdns: boolean }
  ports: { submission: number; smtps: number; imap: number; imaps: number; web: number }
  limits: { max_message_bytes: number; send_per_minute: number; send_burst: number; max_recipients: number }
  mail: { expiry_days: number; large_expiry_days: number; large_message_bytes: number; quota_mb: number }
  storage: { min_free_mb: number; quarantine_max_mb: number; quarantine_max_items: number; quarantine_item_max_mb: number }
  gpio: { enabled: boolean; chip: string; led: number; button: number; long_press_ms: number }
  hotspot: { enabled: boolean; interface: string; ssid: string; passphrase: string; channel: number; country: string; address: string; dhcp_range: string }
  gateway: { enabled: boolean; inbound_port: number; inbound_domains: string; inbound_per_minute: number; inbound_burst: number; static_mx: string }
  smtp: { haraka: HarakaHosting }
}

/** Where Haraka (SMTP submission) runs: a supervised child process, or inside `outpost start`. */
export const HARAKA_HOSTING = ['child', 'in-process'] as const
export type HarakaHosting = (typeof HARAKA_HOSTING)[number]

type Kind = 'string' | 'integer' | 'boolean'
export interface KeySpec {
  kind: Kind
  doc: string
  min?: number
  max?: number
  /** A string key's allowed values. */
  oneOf?: readonly string[]
}

export const STANDARD_PORTS = { submission: 587, smtps: 465, imap: 143, imaps: 993, web: 443 } as const
// Unprivileged processes cannot bind below 1024; these keep the standard
// ports' last digits so they are easy to recognise.
export const HIGH_PORTS = { submission: 1587, smtps: 1465, imap: 1143, imaps: 1993, web: 8443 } as const
/** The gateway's inbound SMTP port: 25 as root, a high port that keeps the 25 otherwise. */
export const INBOUND_PORT = { root: 25, high: 2525 } as const

const port = (doc: string): KeySpec => ({ kind: 'integer', doc, min: 1, max: 65535 })

export const SPEC: { [S in keyof NodeConfig]: { doc: string; keys: { [K in keyof NodeConfig[S]]: KeySpec } } } = {
  node: {
    doc: 'Who this node is.',
    keys: {
      name: { kind: 'string', doc: 'A short human name for the node, shown in the web admin and on its card.' },
      domain: { kind: 'string', doc: 'The mail domain this node serves: accounts are user@domain.' },
      host: { kind: 'string', doc: 'The address phones use to reach the box (IP or host name). It goes into the dclogin: QR codes.' },
    },
  },
  listen: {
    doc: 'Where the services listen.',
    keys: {
      address: { kind: 'string', doc: 'IP address to bind SMTP, IMAP and the web admin to. 0.0.0.0 serves every interface over IPv4 (the hotspot included); :: serves every interface over IPv4 and IPv6, and puts the box\'s Yggdrasil address on its card.' },
      mdns: { kind: 'boolean', doc: 'Announce the box on the LAN by mDNS (_outpost._tcp) and find trusted peers there. Never used when the address above is a loopback address.' },
    },
  },
  ports: {
    doc: 'TCP ports. Standard ports when run as root, high ports otherwise; set each to run several nodes side by side.',
    keys: {
      submission: port('SMTP submission with STARTTLS (Delta Chat sends here).'),
      smtps: port('SMTP submission with implicit TLS.'),
      imap: port('IMAP with STARTTLS (Delta Chat fetches here).'),
      imaps: port('IMAP with implicit TLS.'),
      web: port('HTTPS web admin and API.'),
    },
  },
  limits: {
    doc: 'Limits on what comes in.',
    keys: {
      max_message_bytes: { kind: 'integer', doc: 'Largest message accepted, in bytes (chatmail: 30 MiB).', min: 1024 },
      send_per_minute: { kind: 'integer', doc: 'Messages one account may send per minute, sustained (chatmail: 60).', min: 1 },
      send_burst: { kind: 'integer', doc: 'Messages one account may send at once before the per-minute rate applies (chatmail: 10).', min: 1 },
      max_recipients: { kind: 'integer', doc: 'Recipients per message.', min: 1 },
    },
  },
  mail: {
    doc: 'Storage of delivered mail.',
    keys: {
      expiry_days: { kind: 'integer', doc: 'Delete mail left on the server after this many days (chatmail: 20).', min: 1 },
      large_expiry_days: { kind: 'integer', doc: 'Delete large mail after this many days (chatmail: 7).', min: 1 },
      large_message_bytes: { kind: 'integer', doc: 'What counts as large mail, in bytes.', min: 1024 },
      quota_mb: { kind: 'integer', doc: 'Mailbox quota per account, in MiB.', min: 1 },
    },
  },
  storage: {
    doc: 'Bounds on the data dir, sized for a Raspberry Pi with a small SD card. See docs/limits.md.',
    keys: {
      min_free_mb: { kind: 'integer', doc: 'Free space on the data dir below which mail is refused with a 4xx (the phone tries again later) and imports wait: a 250 is never given for mail that could not be stored.', min: 1 },
      quarantine_max_mb: { kind: 'integer', doc: 'Most the quarantine may hold in all. Past it, an item is kept as its hash and headers only; when not even that fits, the import waits until a person empties the quarantine.', min: 1 },
      quarantine_max_items: { kind: 'integer', doc: 'Most items the quarantine may hold; past it, imports that would add one wait until a person empties it.', min: 1 },
      quarantine_item_max_mb: { kind: 'integer', doc: 'An item larger than this is kept as its size, sha256 and headers (a bundle: its frame and header), not its body.', min: 1 },
    },
  },
  gpio: {
    doc: "The appliance's LED and button, driven through libgpiod's tools (Debian package gpiod). See docs/appliance.md.",
    keys: {
      enabled: { kind: 'boolean', doc: 'Drive the LED and watch the button. Off on machines without them (a laptop, a router box without a header).' },
      chip: { kind: 'string', doc: "The GPIO chip the LED and button are wired to (a Raspberry Pi's 40-pin header is gpiochip0)." },
      led: { kind: 'integer', doc: 'Line offset of the LED (the BCM number on a Pi), lit when the line is high.', min: 0, max: 1023 },
      button: { kind: 'integer', doc: 'Line offset of the button, which connects the line to ground when pressed (the internal pull-up is enabled).', min: 0, max: 1023 },
      long_press_ms: { kind: 'integer', doc: 'A press held at least this long is a long press (safe shutdown); shorter is a short press (sync the plugged stick).', min: 200 },
    },
  },
  hotspot: {
    doc: "The box's own Wi-Fi network (hostapd and dnsmasq configs are generated from these keys). See docs/appliance.md.",
    keys: {
      enabled: { kind: 'boolean', doc: 'Run the hotspot. Needs passphrase and country set.' },
      interface: { kind: 'string', doc: 'The Wi-Fi interface that becomes the access point.' },
      ssid: { kind: 'string', doc: 'The network name phones see, 1 to 32 bytes of UTF-8.' },
      passphrase: { kind: 'string', doc: 'The WPA2 passphrase, 8 to 63 printable ASCII characters. Empty until set; the hotspot will not start without it.' },
      channel: { kind: 'integer', doc: 'Wi-Fi channel: 1 to 13 (2.4 GHz, reaches further) or 36, 40, 44, 48 (5 GHz).', min: 1, max: 196 },
      country: { kind: 'string', doc: 'Two-letter ISO country code (DE, US, ...): it decides the legal channels and power. Empty until set.' },
      address: { kind: 'string', doc: "The box's fixed address on the hotspot with its prefix; phones find it there and as outpost.local." },
      dhcp_range: { kind: 'string', doc: 'Addresses handed to phones, FIRST-LAST, inside the network of the address above.' },
    },
  },
  gateway: {
    doc: "A gateway is a node with a public address that takes the group's mail from the Internet and sends the group's mail out (by MX or a smarthost, DKIM-signed). See docs/gateway.md.",
    keys: {
      enabled: { kind: 'boolean', doc: 'Be a gateway: listen on the inbound port without AUTH (only for the domains below), and send mail for every domain no peer serves to the Internet.' },
      inbound_port: port('SMTP port the Internet delivers to (MX). Only mail for the inbound domains is taken here; AUTH on it still needs TLS.'),
      inbound_domains: { kind: 'string', doc: "Domains taken from the Internet, comma-separated. Empty: this node's domain and every domain a peer's card or an explicit route names (never the default route)." },
      inbound_per_minute: { kind: 'integer', doc: 'Messages one Internet client address may deliver per minute on the inbound port, sustained.', min: 1 },
      inbound_burst: { kind: 'integer', doc: 'Messages one Internet client address may deliver at once before the per-minute rate applies.', min: 1 },
      static_mx: { kind: 'string', doc: 'Where mail for a domain goes instead of its DNS MX, as DOMAIN=HOST:PORT pairs, comma-separated (* for every domain). For private networks and tests; a smarthost (`outpost uplink smarthost`) comes before it.' },
    },
  },
  smtp: {
    doc: 'How SMTP submission (Haraka) runs. See docs/performance.md.',
    keys: {
      haraka: {
        kind: 'string',
        oneOf: HARAKA_HOSTING,
        doc: '`child`: Haraka is a process of its own that the node supervises and restarts alone when it dies. `in-process`: Haraka runs inside the node\'s process: about 47 MB less RSS at idle and 53 MB less with 30 phones connected (10–14 MB less PSS), the only way the node stays under 200 MB RSS with 30 phones on Dovecot 2.3 (on 2.4, Dovecot\'s own auth processes take far more: docs/performance.md), but SMTP sessions then share the node\'s one thread, and an error that would end Haraka then ends the node (systemd restarts it). A gateway always runs Haraka as a child.',
      },
    },
  },
}

export function defaultHost(): string {
  let interfaces: ReturnType<typeof networkInterfaces>
  try {
    interfaces = networkInterfaces()
  } catch {
    // Listing them needs a netlink socket, which a sandbox without network
    // refuses (outpost-usb@.service: RestrictAddressFamilies=AF_UNIX). Such a
    // command reads the host from outpost.toml and never needs this default.
    return '127.0.0.1'
  }
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

/**
 * The defaults for a node of `domain`. `opts.host`: the host the config
 * already names, so that the default one (a look at the network interfaces)
 * is worked out only when it is needed.
 */
export function defaults(domain: string, opts: { root?: boolean; host?: string } = {}): NodeConfig {
  const root = opts.root ?? process.getuid?.() === 0
  return {
    node: { name: domain.split('.')[0] ?? domain, domain, host: opts.host ?? defaultHost() },
    listen: { address: '0.0.0.0', mdns: true },
    ports: { ...(root ? STANDARD_PORTS : HIGH_PORTS) },
    limits: { max_message_bytes: 30 * 1024 * 1024, send_per_minute: 60, send_burst: 10, max_recipients: 50 },
    mail: { expiry_days: 20, large_expiry_days: 7, large_message_bytes: 200 * 1024, quota_mb: 100 },
    storage: { min_free_mb: 64, quarantine_max_mb: 100, quarantine_max_items: 1000, quarantine_item_max_mb: 4 },
    gpio: { enabled: false, chip: 'gpiochip0', led: 17, button: 27, long_press_ms: 3000 },
    hotspot: { enabled: false, interface: 'wlan0', ssid: 'Outpost', passphrase: '', channel: 6, country: '', address: '10.42.0.1/24', dhcp_range: '10.42.0.10-10.42.0.250' },
    gateway: { enabled: false, inbound_port: root ? INBOUND_PORT.root : INBOUND_PORT.high, inbound_domains: '', inbound_per_minute: 30, inbound_burst: 10, static_mx: '' },
    smtp: { haraka: 'child' },
  }
}
