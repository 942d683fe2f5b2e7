// The box's own Wi-Fi: hostapd makes the access point, dnsmasq gives the
// phones an address and answers outpost.local. Both configs are rendered
// here by pure functions from the [hotspot] section of outpost.toml; writing
// them to /etc and restarting the daemons happens at the edge (see
// docs/appliance.md), never here.
//
// hostapd has no syntax-check mode (its options are -B -d -h -K -t -v and
// friends; it only finds errors when it starts on a real interface), so its
// output is checked by golden tests written against the hostapd.conf
// reference. dnsmasq has one (`dnsmasq --test -C FILE`); the test uses it
// when dnsmasq is installed.
import type { NodeConfig } from '../config/schema.js'
import { OutpostError } from '../base/errors.js'

export type HotspotSettings = NodeConfig['hotspot']

export class HotspotError extends OutpostError {
  override name = 'HotspotError'
}

/** 2.4 GHz channels usable in most countries, and the 5 GHz ones that need no radar detection (DFS). */
const CHANNELS_24 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
const CHANNELS_5 = [36, 40, 44, 48]

function ipv4(text: string, what: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  const parts = m?.slice(1).map(Number)
  if (!parts || parts.some((p) => p > 255)) throw new HotspotError(`[hotspot] ${what}: "${text}" is not an IPv4 address like 10.42.0.1`)
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!
}

function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

export interface HotspotPlan {
  interface: string
  ssid: string
  passphrase: string
  channel: number
  hwMode: 'g' | 'a'
  country: string
  address: string
  netmask: string
  prefix: number
  rangeStart: string
  rangeEnd: string
}

/** The network name: 1 to 32 bytes of UTF-8, no control characters. */
export function checkSsid(ssid: string): void {
  const ssidBytes = Buffer.byteLength(ssid, 'utf8')
  if (ssidBytes < 1 || ssidBytes > 32) throw new HotspotError(`[hotspot] ssid: must be 1 to 32 bytes (UTF-8), "${ssid}" has ${ssidBytes}`)
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(ssid)) throw new HotspotError('[hotspot] ssid: must not contain control characters (a newline would end the setting)')
}

export function checkPassphrase(passphrase: string): void {
  // WPA2 takes 8 to 63 printable ASCII characters (IEEE 802.11i, and
  // hostapd's wpa_passphrase); 64 characters would be read as a raw key.
  if (passphrase.length < 8 || passphrase.length > 63) throw new HotspotError(`[hotspot] passphrase: must be 8 to 63 characters, it has ${passphrase.length}${passphrase.length === 0 ? ' (set one before enabling the hotspot)' : ''}`)
  if (!/^[\x20-\x7e]+$/.test(passphrase)) throw new HotspotError('[hotspot] passphrase: only printable ASCII characters (letters, digits, punctuation, spaces) are allowed in a WPA2 passphrase')
  if (passphrase !== passphrase.trim()) throw new HotspotError('[hotspot] passphrase: must not start or end with a space (phones and web forms tend to drop them)')
}

/** The band of a supported channel. */
export function channelMode(channel: number): 'g' | 'a' {
  const hwMode = CHANNELS_24.includes(channel) ? 'g' : CHANNELS_5.includes(channel) ? 'a' : undefined
  if (!hwMode) throw new HotspotError(`[hotspot] channel: ${channel} is not supported; use 1 to 13 (2.4 GHz) or 36, 40, 44, 48 (5 GHz without radar detection)`)
  return hwMode
}

/** Checks every setting and says which key is wrong and how to fix it. */
export function planHotspot(s: HotspotSettings): HotspotPlan {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s.interface)) throw new HotspotError(`[hotspot] interface: "${s.interface}" is not a network interface name (like wlan0)`)
  checkSsid(s.ssid)
  checkPassphrase(s.passphrase)
  const hwMode = channelMode(s.channel)
  if (!/^[A-Z]{2}$/.test(s.country)) throw new HotspotError(`[hotspot] country: "${s.country}" is not a two-letter ISO 3166 code like DE or US; it decides the channels and power the radio may legally use`)
  const cidr = /^([\d.]+)\/(\d{1,2})$/.exec(s.address)
  if (!cidr) throw new HotspotError(`[hotspot] address: "${s.address}" must be the box's address with its prefix, like 10.42.0.1/24`)
  const prefix = Number(cidr[2])
  if (prefix < 8 || prefix > 30) throw new HotspotError(`[hotspot] address: prefix /${prefix} must be from /8 to /30`)
  const addr = ipv4(cidr[1]!, 'address')
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0
  const range = /^([\d.]+)-([\d.]+)$/.exec(s.dhcp_range)
  if (!range) throw new HotspotError(`[hotspot] dhcp_range: "${s.dhcp_range}" must be FIRST-LAST, like 10.42.0.10-10.42.0.250`)
  const first = ipv4(range[1]!, 'dhcp_range')
  const last = ipv4(range[2]!, 'dhcp_range')
  const net = (addr & mask) >>> 0
  const broadcast = (net | ~mask) >>> 0
  for (const [n, t] of [[first, range[1]!], [last, range[2]!]] as const) {
    if (((n & mask) >>> 0) !== net || n === net || n === broadcast) throw new HotspotError(`[hotspot] dhcp_range: ${t} is not a host address in ${dotted(net)}/${prefix}, the box's network`)
  }
  if (first > last) throw new HotspotError(`[hotspot] dhcp_range: ${range[1]} comes after ${range[2]}`)
  if (addr >= first && addr <= last) throw new HotspotError(`[hotspot] dhcp_range: it contains the box's own address ${dotted(addr)}; phones would be handed it`)
  return { interface: s.interface, ssid: s.ssid, passphrase: s.passphrase, channel: s.channel, hwMode, country: s.country, address: dotted(addr), netmask: dotted(mask), prefix, rangeStart: dotted(first), rangeEnd: dotted(last) }
}

/** /etc/hostapd/hostapd.conf. Every line says why it is there (reference: hostapd/hostapd.conf in the hostap sources). */
export function renderHostapdConf(s: HotspotSettings): string {
  const p = planHotspot(s)
  return [
    '# Generated by Outpost from [hotspot] in outpost.toml; edits here are overwritten.',
    `interface=${p.interface}`,
    '# nl80211: the driver interface of every mac80211 Wi-Fi driver (a Pi\'s brcmfmac included).',
    'driver=nl80211',
    '# The SSID as hex bytes (ssid2 takes a hexdump), so any UTF-8 name is sent exactly;',
    '# utf8_ssid tells phones to show it as UTF-8.',
    `ssid2=${Buffer.from(p.ssid, 'utf8').toString('hex')}`,
    'utf8_ssid=1',
    '# The country sets which channels and transmit power are legal; 802.11d announces it to phones.',
    `country_code=${p.country}`,
    'ieee80211d=1',
    `# ${p.hwMode === 'g' ? '2.4 GHz' : '5 GHz'} band.`,
    `hw_mode=${p.hwMode}`,
    `channel=${p.channel}`,
    '# 802.11n (and WMM, which it requires) for phones\' usual speeds.',
    'ieee80211n=1',
    'wmm_enabled=1',
    '# Open System authentication only (no shared-key WEP).',
    'auth_algs=1',
    '# The network is visible, so people can find it by name.',
    'ignore_broadcast_ssid=0',
    '# WPA2-Personal with AES (CCMP) only: no WPA1, no TKIP.',
    'wpa=2',
    'wpa_key_mgmt=WPA-PSK',
    'rsn_pairwise=CCMP',
    `wpa_passphrase=${p.passphrase}`,
    '',
  ].join('\n')
}

/** A drop-in for dnsmasq (/etc/dnsmasq.d/outpost.conf): DHCP for the phones and the box's names. */
export function renderDnsmasqConf(s: HotspotSettings, opts: { leaseTime?: string } = {}): string {
  const p = planHotspot(s)
  return [
    '# Generated by Outpost from [hotspot] in outpost.toml; edits here are overwritten.',
    '# Serve only the hotspot: listen on the box\'s hotspot address (not on loopback,',
    '# where systemd-resolved or another resolver may already be) and bind to it alone.',
    `listen-address=${p.address}`,
    'bind-interfaces',
    '# Hand phones an address from the range, with the box as their router and DNS server.',
    `dhcp-range=${p.rangeStart},${p.rangeEnd},${p.netmask},${opts.leaseTime ?? '12h'}`,
    `dhcp-option=option:router,${p.address}`,
    '# The only DHCP server on its own network: answer at once, even for leases it forgot after a reboot.',
    'dhcp-authoritative',
    '# The box by name, for phones that cannot resolve .local over mDNS themselves (older Android).',
    `address=/outpost.local/${p.address}`,
    '# Never forward plain names or private reverse lookups upstream (the box may have no upstream at all).',
    'domain-needed',
    'bogus-priv',
    '',
  ].join('\n')
}
