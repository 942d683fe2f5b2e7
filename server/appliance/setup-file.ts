// outpost-setup.txt: the one file the owner edits on the card's FAT
// partition before the first boot (and any time later). Pure functions:
// parse the file, decide what to apply against what the box has now, and
// render the file as it is written back (secrets removed, a note of what
// was applied). Reading and writing the card, outpost.toml and the system
// happen at the edge, in cli/setup-file.ts.
//
// The format is deliberately the plainest a text editor on any computer
// keeps intact: `key = value` lines, `#` comments, blank lines. A value is
// everything after the first `=`, trimmed; double quotes around it are
// removed (so a passphrase may hold a `#`). Windows line endings and a
// UTF-8 byte-order mark (Notepad) are accepted.
import { checkPassphrase, checkSsid } from './hotspot.js'
import { isNodeName } from '../identity/name.js'
import { MIN_ADMIN_PASSWORD } from '../accounts/password.js'

export const SETUP_KEYS = ['name', 'domain', 'wifi_ssid', 'wifi_passphrase', 'wifi_country', 'admin_password', 'ssh_authorized_key'] as const
export type SetupKey = (typeof SETUP_KEYS)[number]
/** Removed from the file once applied: anyone who borrows the card could read them. */
export const SECRET_KEYS: readonly SetupKey[] = ['wifi_passphrase', 'admin_password']

/** The defaults of an empty file. name and domain are used once, when the node is made. */
export const SETUP_DEFAULTS = { name: 'outpost', domain: 'outpost.local', wifi_ssid: 'Outpost', wifi_country: 'DE' } as const

export interface SetupFile {
  values: Partial<Record<SetupKey, string>>
  /** Lines that were not understood: unknown keys, lines without `=`, repeated keys. */
  warnings: string[]
}

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v
}

export function parseSetupFile(text: string): SetupFile {
  const values: SetupFile['values'] = {}
  const warnings: string[] = []
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  lines.forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const eq = line.indexOf('=')
    if (eq < 0) {
      warnings.push(`line ${i + 1}: "${line}" is not key = value; ignored`)
      return
    }
    const key = line.slice(0, eq).trim().toLowerCase()
    if (!(SETUP_KEYS as readonly string[]).includes(key)) {
      warnings.push(`line ${i + 1}: unknown key "${key}" ignored (known: ${SETUP_KEYS.join(', ')})`)
      return
    }
    const k = key as SetupKey
    if (values[k] !== undefined) warnings.push(`line ${i + 1}: ${k} is set twice; the last one counts`)
    values[k] = unquote(line.slice(eq + 1).trim())
  })
  return { values, warnings }
}

/** What the box has now, read by the edge before planning. */
export interface SetupCurrent {
  /** outpost.toml exists: name and domain are fixed from now on. */
  initialized: boolean
  name?: string
  domain?: string
  hotspot?: { ssid: string; passphrase: string; country: string; enabled: boolean }
  /** The web admin has a password. */
  adminSet: boolean
}

export interface SetupPlan {
  /** Make the node (outpost init) with these, when it is not made yet. */
  init?: { name: string; domain: string }
  /** The host name of the box: the node's name. */
  hostname: string
  /** The [hotspot] to write, when it differs from what the box has. */
  hotspot?: { enabled: true; ssid: string; passphrase: string; country: string }
  /** A hotspot passphrase the box chose, to be written back for the owner to read. */
  generatedPassphrase?: string
  /** The admin password to set. */
  adminPassword?: string
  /**
   * The web admin stays unclaimed: nobody gave a password, and none is set.
   * Its first-run page asks for the setup code (server/admin/setup-code.ts),
   * which the edge writes into the note: only someone holding the card reads it.
   */
  claimWithSetupCode: boolean
  /** A public key to add to root's authorized_keys; SSH is turned on with it. */
  sshKey?: string
  /** What was applied, in words, without secrets: the note written back to the card. */
  applied: string[]
  /** Settings that were not applied, and why: also written back. */
  problems: string[]
}

const SSH_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+=*( [^\r\n]*)?$/
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/

function tryCheck(check: () => void): string | undefined {
  try {
    check()
    return undefined
  } catch (e) {
    return (e as Error).message.replace(/^\[hotspot\] (ssid|passphrase): /, '')
  }
}

/**
 * Decides what to apply. An empty value means "keep what the box has" (on
 * the first boot: the default), so a file whose secrets were removed after
 * applying changes nothing when it is read again at the next boot. A value
 * that is wrong is not applied and is reported; the rest still is.
 * `random` makes a passphrase for what the owner left empty and the box
 * cannot run without.
 */
export function planSetup(file: SetupFile, current: SetupCurrent, random: () => string): SetupPlan {
  const v = file.values
  const applied: string[] = []
  const problems: string[] = [...file.warnings]
  const plan: SetupPlan = { hostname: current.name ?? SETUP_DEFAULTS.name, claimWithSetupCode: false, applied, problems }

  // --- name and domain: chosen once, when the node is made ---------------
  if (!current.initialized) {
    let name: string = SETUP_DEFAULTS.name
    let domain: string = SETUP_DEFAULTS.domain
    if (v.name) {
      const n = v.name.toLowerCase()
      // The name is also the host name (outpost.local stays the box's
      // mDNS name either way): both rules hold for a node name.
      if (isNodeName(n) && !n.includes('.') && n.length <= 63) name = n
      else problems.push(`name: "${v.name}" is not a node name (lower-case letters, digits and "-", at most 63); "${name}" was used`)
    }
    if (v.domain) {
      const d = v.domain.toLowerCase()
      if (DOMAIN.test(d)) domain = d
      else problems.push(`domain: "${v.domain}" is not a domain name like camp.example or outpost.local; "${domain}" was used`)
    }
    plan.init = { name, domain }
    plan.hostname = name
    applied.push(`name: ${name}`, `domain: ${domain} (addresses are like alice@${domain})`)
  } else {
    if (v.name && v.name.toLowerCase() !== current.name) problems.push(`name: the node is already named "${current.name}"; a name cannot change after the first boot (its peers know it by that name)`)
    if (v.domain && v.domain.toLowerCase() !== current.domain) problems.push(`domain: the node's domain is already "${current.domain}"; it cannot change after the first boot (every account's address ends in it)`)
  }

  // --- the hotspot -------------------------------------------------------
  const now = current.hotspot
  let ssid = now?.ssid || SETUP_DEFAULTS.wifi_ssid
  if (v.wifi_ssid) {
    const err = tryCheck(() => checkSsid(v.wifi_ssid!))
    if (err) problems.push(`wifi_ssid: ${err}; "${ssid}" was kept`)
    else ssid = v.wifi_ssid
  }
  let country = now?.country || SETUP_DEFAULTS.wifi_country
  if (v.wifi_country) {
    const c = v.wifi_country.toUpperCase()
    if (/^[A-Z]{2}$/.test(c)) country = c
    else problems.push(`wifi_country: "${v.wifi_country}" is not a two-letter country code like DE, FR or US; ${country} was kept`)
  }
  let passphrase = now?.passphrase ?? ''
  let passphraseSet = false
  if (v.wifi_passphrase) {
    const err = tryCheck(() => checkPassphrase(v.wifi_passphrase!))
    if (err) problems.push(`wifi_passphrase: ${err}; ${passphrase ? 'the old one was kept' : 'the box chose one instead'}`)
    else {
      passphrase = v.wifi_passphrase
      passphraseSet = true
    }
  }
  if (!passphrase) {
    passphrase = random()
    plan.generatedPassphrase = passphrase
  }
  if (!now || !now.enabled || now.ssid !== ssid || now.passphrase !== passphrase || now.country !== country) {
    plan.hotspot = { enabled: true, ssid, passphrase, country }
    applied.push(`wifi_ssid: ${ssid}`, `wifi_country: ${country}`)
    if (passphraseSet) applied.push('wifi_passphrase: the one written here (removed from this file)')
  }

  // --- the web admin -----------------------------------------------------
  if (v.admin_password) {
    const instead = current.adminSet ? 'the old one was kept' : 'the web admin waits for the setup code instead'
    if (v.admin_password.length < MIN_ADMIN_PASSWORD) problems.push(`admin_password: must be at least ${MIN_ADMIN_PASSWORD} characters; ${instead}`)
    else if (v.admin_password.length > 256) problems.push(`admin_password: may be at most 256 characters; ${instead}`)
    else {
      plan.adminPassword = v.admin_password
      applied.push('admin_password: the one written here (removed from this file)')
    }
  }
  // No password given and none set: the web admin can be claimed only with
  // the box's setup code, which the note on the card shows. Whoever joins
  // the hotspot first does not have it; whoever holds the card does. No
  // password is chosen for the owner: none is ever written on the card.
  if (!plan.adminPassword && !current.adminSet) plan.claimWithSetupCode = true

  // --- SSH -----------------------------------------------------------------
  if (v.ssh_authorized_key) {
    if (SSH_KEY.test(v.ssh_authorized_key)) {
      plan.sshKey = v.ssh_authorized_key
      applied.push(`ssh_authorized_key: added for root (${v.ssh_authorized_key.split(' ')[0]}); SSH is on`)
    } else problems.push('ssh_authorized_key: not an OpenSSH public key (one line like "ssh-ed25519 AAAA... you@laptop", from your .pub file); SSH stays as it was')
  }
  return plan
}

/** Makes a passphrase from `bytes`: 16 characters a person can copy from a screen (no 0/O, 1/l/I). */
export function passphraseFrom(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789'
  if (bytes.length < 16) throw new Error('passphraseFrom needs 16 random bytes')
  let s = ''
  for (let i = 0; i < 16; i++) s += alphabet[bytes[i]! % alphabet.length]
  // In groups of four, easier to type on a phone.
  return s.match(/.{4}/g)!.join('-')
}

export const NOTE_BEGIN = '# ==== What the box applied'
export const NOTE_END = '# ==== End of what the box applied ===='
const PASSPHRASE_LINE = "# The hotspot's passphrase, chosen by the box:"
const SETUP_CODE_LINE = "# The web admin is not claimed yet. Its setup code:"

/**
 * The file as written back: the secrets' values emptied (their lines and
 * comments kept, so the owner can write a new one), every other line as the
 * owner left it, and at the top a note of what was applied, replacing the
 * note of an earlier boot. When the box chose the hotspot passphrase, the
 * note holds it; while the web admin is unclaimed, the note holds its
 * `setupCode` (formatted, as the first-run page asks for it). The card is
 * the owner's, and this is the only place they can be read before the first
 * login.
 */
export function renderAppliedFile(text: string, plan: SetupPlan, when: Date, setupCode?: string): string {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  // Drop an earlier note, but keep what the box chose then and nothing
  // has replaced since: the owner may not have read it yet.
  const begin = lines.findIndex((l) => l.startsWith(NOTE_BEGIN))
  const end = lines.findIndex((l) => l === NOTE_END)
  let keptPassphrase: string | undefined
  if (begin >= 0 && end >= begin) {
    const old = lines.splice(begin, end - begin + 1 + (lines[end + 1] === '' ? 1 : 0))
    const ownPassphrase = plan.applied.some((a) => a.startsWith('wifi_passphrase'))
    if (!plan.generatedPassphrase && !ownPassphrase) keptPassphrase = old.find((l) => l.startsWith(PASSPHRASE_LINE))
  }
  const body = lines.map((raw) => {
    const line = raw.trim()
    const eq = line.indexOf('=')
    if (line.startsWith('#') || eq < 0) return raw
    const key = line.slice(0, eq).trim().toLowerCase()
    return (SECRET_KEYS as readonly string[]).includes(key) ? `${key} =` : raw
  })
  const note = [`${NOTE_BEGIN} at ${when.toISOString().replace(/\.\d+Z$/, 'Z')} ====`]
  if (plan.generatedPassphrase) note.push(`${PASSPHRASE_LINE} ${plan.generatedPassphrase}`)
  else if (keptPassphrase) note.push(keptPassphrase)
  // Shown again at every boot until the box is claimed, and gone after.
  if (plan.claimWithSetupCode && setupCode) {
    note.push(`${SETUP_CODE_LINE} ${setupCode}`, '#   Open https://outpost.local on the hotspot, enter this code and choose the', '#   admin password (or write admin_password below and boot again).')
  }
  for (const a of plan.applied) note.push(`# applied ${a}`)
  for (const p of plan.problems) note.push(`# NOT applied: ${p}`)
  if (plan.applied.length === 0 && plan.problems.length === 0 && !plan.generatedPassphrase && !plan.claimWithSetupCode) note.push('# nothing changed')
  note.push(NOTE_END, '')
  return [...note, ...body].join('\n')
}

/** The file as it is on a fresh card: every key, documented, with its default. */
export function renderSetupTemplate(): string {
  return `# Outpost settings. Edit this file on any computer before the first boot,
# then put the card in the box and switch it on. Write each setting as
#   key = value
# Lines starting with # are comments. An empty value keeps what the box has
# (on the first boot: the default named below).
#
# At every boot the box reads this file and applies what changed. It then
# removes the passwords from it and writes at the top what it applied.
# Nobody on the hotspot can claim the box before you: if you leave
# wifi_passphrase empty, the box chooses one and writes it at the top; if
# you leave admin_password empty, the web admin asks for a setup code that
# the box writes at the top. Only someone holding this card can read them.

# The node's name: lower-case letters, digits and "-". It is the box's host
# name and how other boxes know it. Fixed at the first boot. Default: ${SETUP_DEFAULTS.name}
name =

# The mail domain: the part after @ in everyone's address here. Fixed at
# the first boot. Default: ${SETUP_DEFAULTS.domain}
domain =

# The Wi-Fi network the box makes (its hotspot). Phones join it to chat.
# Name, 1 to 32 characters. Default: ${SETUP_DEFAULTS.wifi_ssid}
wifi_ssid =

# Its password (WPA2), 8 to 63 characters. Empty: the box chooses one and
# writes it at the top of this file. There is no default password.
wifi_passphrase =

# The country the box is in, two letters (DE, FR, GB, US, ...): it decides
# which Wi-Fi channels and power are legal there. Default: ${SETUP_DEFAULTS.wifi_country}
wifi_country =

# The password of the web admin (https://outpost.local), at least ${MIN_ADMIN_PASSWORD}
# characters. Empty: the web admin's first page asks for the setup code the
# box writes at the top of this file, and you choose the password there.
admin_password =

# Optional: your SSH public key (one line from a .pub file, like
# "ssh-ed25519 AAAA... you@laptop"), to log in as root over SSH.
# SSH stays off without it. There is no password login.
ssh_authorized_key =
`
}
