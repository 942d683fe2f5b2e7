// The private Dovecot instance's configuration, rendered from the node's
// config. Pure: no file is read or written here (process.ts does that), so
// the output can be tested line by line and checked with `doveconf -n`.
//
// Two renders, one per configuration language: Dovecot 2.3 (Debian 12
// bookworm ships 2.3.19) and Dovecot 2.4 (Debian 13 trixie and Raspberry Pi
// OS ship 2.4.1), which renamed most settings and rejects 2.3 syntax at its
// first line. Both keep the same guarantees; process.ts detects the installed
// version once at start and refuses any other.
//
// Delivery path: Haraka → LMTP (unix socket) → Maildir. Haraka answers the
// SMTP client 250 only after LMTP answered 250 for the recipient, so the
// moment a message becomes "ours" is Dovecot's LMTP 250, which comes after the
// message file and its directory are fsynced (see mail_fsync below).
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { join } from 'node:path'
import type { NodeConfig } from '../config/schema.js'
import type { NodePaths } from '../base/paths.js'
import { splitAddress } from '../accounts/address.js'
import { OutpostError } from '../base/errors.js'

export interface DovecotUser {
  /** The account every mail process runs as, and (not as root) the one Dovecot itself runs as. */
  name: string
  group: string
  uid: number
  gid: number
}

/** The Dovecot releases whose configuration language Outpost writes. */
export const SUPPORTED_DOVECOT_VERSIONS = ['2.3', '2.4'] as const
/** A Dovecot major.minor version Outpost can configure. */
export type DovecotVersion = (typeof SUPPORTED_DOVECOT_VERSIONS)[number]

export interface DovecotConfInput {
  /** The installed Dovecot's major.minor version (checkDovecotInstalled). */
  version: DovecotVersion
  config: NodeConfig
  paths: NodePaths
  user: DovecotUser
  /** True when Dovecot's master process starts as root. */
  root: boolean
  /** Set when IMAP loads the outpost_push plugin (push.ts): the node's own module folder holding it. */
  push?: { moduleDir: string }
}

/**
 * The files of one Dovecot instance, keyed by their file name inside
 * `paths.dovecotDir`. For 2.3, `dovecot.conf` (= `paths.dovecotConf`) names
 * `dovecot-sql.conf.ext` by its absolute path, so both must be written side
 * by side; 2.4 has its SQL settings in dovecot.conf and no second file.
 */
export interface DovecotFiles {
  'dovecot.conf': string
  'dovecot-sql.conf.ext'?: string
}

export const SQL_CONF_NAME = 'dovecot-sql.conf.ext'

export class DovecotConfigError extends OutpostError {
  override name = 'DovecotConfigError'
}

/** Where Dovecot keeps state that must survive restarts of the instance but not of the data dir's owner. */
export function dovecotStateDir(paths: NodePaths): string {
  return join(paths.run, 'dovecot-state')
}

export function dovecotLogPath(paths: NodePaths): string {
  return join(paths.log, 'dovecot.log')
}

/**
 * A name unique to this data dir, so that several nodes on one machine (and a
 * system Dovecot) can be told apart in `ps` and in logs.
 */
export function dovecotInstanceName(paths: NodePaths): string {
  return 'outpost-' + createHash('sha256').update(paths.data).digest('hex').slice(0, 10)
}

// Dovecot's config parser treats # as a comment, spaces and quotes specially,
// and expands %-variables in paths such as the userdb home. Rather than quote,
// accept only characters that need none: a data dir with other characters is
// rare, and the error says what to do.
const SAFE_PATH = /^\/[A-Za-z0-9._/+@:,=~-]*$/
const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/

function safePath(what: string, p: string): string {
  if (!SAFE_PATH.test(p)) {
    throw new DovecotConfigError(
      `${what} "${p}" cannot be written into dovecot.conf: use a data directory whose path has only letters, digits and . _ - + @ / in it`,
    )
  }
  return p
}

function safeName(what: string, s: string): string {
  if (!SAFE_NAME.test(s) || s.length > 64) throw new DovecotConfigError(`${what} "${s}" is not a valid user or group name for dovecot.conf`)
  return s
}

function safeId(what: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new DovecotConfigError(`${what} ${n} is not a valid numeric id`)
  return n
}

function safePort(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DovecotConfigError(`ports.${what} = ${n} is not a TCP port (1-65535)`)
  return n
}

function safePositive(what: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new DovecotConfigError(`${what} = ${n} must be a whole number of at least 1`)
  return n
}

function safeAddress(a: string): string {
  if (isIP(a) === 0) throw new DovecotConfigError(`listen.address "${a}" is not an IP address (use 0.0.0.0 for every interface, :: for every interface over IPv4 and IPv6, 127.0.0.1 for this machine only)`)
  // "::" is every address, IPv4 and IPv6, as it is for Haraka and the web
  // server; Dovecot binds "::" to IPv6 only, and "*" is its every IPv4.
  return a === '::' ? '*, ::' : a
}

function safeDomain(d: string): string {
  try {
    return splitAddress(`postmaster@${d}`).domain
  } catch {
    throw new DovecotConfigError(`node.domain "${d}" is not a valid mail domain`)
  }
}

/** Why both renders announce XCHATMAIL. */
const XCHATMAIL_REASON = `# Delta Chat recognises chatmail relays by this capability: its core sets
# is_chatmail from CAPABILITY XCHATMAIL when an account is configured and again
# on each INBOX fetch/IDLE round. What it then does differently, as read in
# the deltachat-core-rust / chatmail core sources:
# - deletes every downloaded message from the server right away when the
#   account is on one device only (BccSelf off);
# - creates no "DeltaChat" folder and moves nothing there, and stops watching
#   the Sent folder: INBOX is the only folder it uses;
# - enables end-to-end encryption and sends encrypted regardless of the
#   peer's Autocrypt preference;
# - uses chatmail's default for the number of recipients per SMTP message.
# Outpost serves exactly that client (INBOX only, mail expires from the
# server), so it announces itself the same way.`

export function renderDovecotConf(input: DovecotConfInput): DovecotFiles {
  const v = checkedValues(input)
  switch (input.version) {
    case '2.3':
      return render23(v)
    case '2.4':
      return render24(v)
    default:
      throw new DovecotConfigError(`Dovecot ${String(input.version)} is not one Outpost can configure (${SUPPORTED_DOVECOT_VERSIONS.join(', ')})`)
  }
}

/** Every value that goes into a render, checked so that it cannot break out of its line. */
interface ConfValues {
  paths: NodePaths
  root: boolean
  p: { base: string; state: string; log: string; mail: string; db: string; lmtp: string; cert: string; key: string; sqlConf: string }
  lmtpListener: string
  name: string
  group: string
  uid: number
  gid: number
  address: string
  domain: string
  imapPort: number
  imapsPort: number
  quotaMb: number
  maxMessage: number
  pushModuleDir: string | undefined
}

function checkedValues(input: DovecotConfInput): ConfValues {
  const { config, paths, user, root } = input
  const p = {
    base: safePath('paths.dovecotBase', paths.dovecotBase),
    state: safePath('the Dovecot state dir', dovecotStateDir(paths)),
    log: safePath('the Dovecot log', dovecotLogPath(paths)),
    mail: safePath('paths.mail', paths.mail),
    db: safePath('paths.db', paths.db),
    lmtp: safePath('paths.lmtpSocket', paths.lmtpSocket),
    cert: safePath('paths.tlsCert', paths.tlsCert),
    key: safePath('paths.tlsKey', paths.tlsKey),
    sqlConf: safePath('the Dovecot SQL config', join(paths.dovecotDir, SQL_CONF_NAME)),
  }
  // A Unix socket path longer than sun_path (108 bytes with its NUL) cannot
  // be bound; Dovecot would fail at start with a less helpful message.
  if (Buffer.byteLength(p.lmtp) > 107) {
    throw new DovecotConfigError(`LMTP socket path ${p.lmtp} is longer than 107 bytes, the limit for Unix sockets: use a shorter data directory path`)
  }
  const uid = safeId('uid', user.uid)
  if (uid === 0) {
    throw new DovecotConfigError('mail processes must not run as root (uid 0): run Outpost as its own system user, or give it one to drop to')
  }
  return {
    paths,
    root,
    p,
    // Dovecot defines its own "lmtp" listener inside base_dir; naming the same
    // socket by absolute path would be a second, duplicate listener.
    lmtpListener: p.lmtp.startsWith(p.base + '/') ? p.lmtp.slice(p.base.length + 1) : p.lmtp,
    name: safeName('user', user.name),
    group: safeName('group', user.group),
    uid,
    gid: safeId('gid', user.gid),
    address: safeAddress(config.listen.address),
    domain: safeDomain(config.node.domain),
    imapPort: safePort('imap', config.ports.imap),
    imapsPort: safePort('imaps', config.ports.imaps),
    quotaMb: safePositive('mail.quota_mb', config.mail.quota_mb),
    maxMessage: safePositive('limits.max_message_bytes', config.limits.max_message_bytes),
    pushModuleDir: input.push && safePath('the IDLE push module dir', input.push.moduleDir),
  }
}

function render23(v: ConfValues): DovecotFiles {
  const { root, p, lmtpListener, name, group, uid, gid, address, imapPort, imapsPort, quotaMb, maxMessage } = v
  const conf = `# Generated by Outpost from outpost.toml. Do not edit: it is rewritten at every start.
# Dovecot 2.3 reference: https://doc.dovecot.org/2.3/settings/core/
# Only non-default settings are written, each with its reason.

${instanceSection(v)}
${root ? rootSection(name) : nonRootSection(name, group, 'https://wiki2.dovecot.org/HowTo/Rootless')}
# Every mail process runs as this one uid/gid; nothing else is ever valid,
# so a bad userdb answer cannot make Dovecot act as another user.
first_valid_uid = ${uid}
last_valid_uid = ${uid}
first_valid_gid = ${gid}
last_valid_gid = ${gid}

# --- TLS ------------------------------------------------------------------
# https://doc.dovecot.org/2.3/configuration_manual/dovecot_ssl_configuration/
# required: no authentication before TLS. Dovecot 2.3 still lets a client
# whose local and remote IP are the same (loopback, or the box itself) log in
# without TLS, calling it "secured"; the password_query in
# dovecot-sql.conf.ext closes that gap. Phones on the hotspot share its Wi-Fi
# with everyone else there, and nothing on the box needs a plaintext login.
ssl = required
ssl_cert = <${p.cert}
ssl_key = <${p.key}
# TLS 1.2 is what older Android phones still speak; anything older is broken.
ssl_min_protocol = TLSv1.2

# --- Listeners ------------------------------------------------------------
${listenerSections('address', '2.3', { address, imapPort, imapsPort, root, lmtpListener, name })}

# --- Accounts -------------------------------------------------------------
# Outpost's own database is the one list of accounts: Dovecot reads the
# accounts table (sqlite driver of dovecot-sqlite) and Haraka checks the same
# Argon2id hash, so there is nothing to keep in sync.
# https://doc.dovecot.org/2.3/configuration_manual/authentication/sql/
passdb {
  driver = sql
  args = ${p.sqlConf}
}
# The userdb reads the same table, so an address that is not there is
# unknown to LMTP too ("550 5.1.1 User doesn't exist"), and doveadm -A can
# list every account (a static userdb cannot be iterated, and the daily
# expiry runs doveadm expunge -A). Every account has the same shape, so
# home, uid and gid are computed here rather than stored.
# https://doc.dovecot.org/2.3/configuration_manual/authentication/sql/#user-database-lookups
userdb {
  driver = sql
  args = ${p.sqlConf}
  default_fields = uid=${uid} gid=${gid} home=${p.mail}/%d/%n
}

# --- Mail storage ---------------------------------------------------------
# Maildir: one file per message, written to tmp/ and renamed into new/, so a
# crash never leaves a half-written message visible.
mail_location = maildir:~/Maildir
# optimized (Dovecot's default, kept on purpose): before LMTP answers 250,
# Dovecot fsyncs the message file and, after renaming it into new/,
# fdatasyncs new/ itself (maildir-save.c: maildir_transaction_fsync_dirs), so
# an accepted message survives power loss. "always" would also fsync index and
# cache files after every change; those are rebuilt from the Maildir when
# lost, so the extra writes would only wear the SD card.
# https://doc.dovecot.org/2.3/settings/core/#core_setting-mail_fsync
mail_fsync = optimized

namespace inbox {
  # Delta Chat on a chatmail server uses INBOX only.
  inbox = yes
}

# IDLE: Dovecot learns of new mail through inotify and tells clients at once
# (after its built-in 0.5 s debounce). The "still here" keepalive every two
# minutes (Dovecot's default, written down because Delta Chat depends on it)
# keeps phones' and hotspots' NAT entries for idle connections alive.
# https://doc.dovecot.org/2.3/settings/core/#core_setting-imap_idle_notify_interval
imap_idle_notify_interval = 2 mins

${XCHATMAIL_REASON}
imap_capability = +XCHATMAIL

# --- Quota ----------------------------------------------------------------
# https://doc.dovecot.org/2.3/configuration_manual/quota_plugin/
# A full SD card would stop delivery for everyone; a per-account quota stops
# only the account that filled it.
mail_plugins = $mail_plugins quota
protocol imap {
  # Adds the QUOTA capability: Delta Chat shows the storage in use.
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
  # The node default, for doveadm runs without a userdb lookup; every
  # account's rule comes from the userdb query (accounts.quota_mb or this).
  quota_rule = *:storage=${quotaMb}M
  # Haraka refuses larger messages already; this keeps IMAP APPEND in line.
  quota_max_mail_size = ${maxMessage}
}
${pushSection('2.3', v.pushModuleDir)}
# --- LMTP (Haraka → Dovecot) ------------------------------------------------
# https://doc.dovecot.org/2.3/settings/core/#core_setting-lmtp_rcpt_check_quota
protocol lmtp {
  # Dovecot's default, kept on purpose: user+detail@ must never be filed into
  # another folder, Delta Chat reads INBOX only.
  lmtp_save_to_detail_mailbox = no
}
# Our addresses may contain "+" (see accounts/address.ts), and each is an
# account of its own: no part of a local part is a "detail".
recipient_delimiter =
# An over-quota recipient is refused at RCPT time, so Haraka gets a per-
# recipient answer before DATA and can tell the sender which one failed.
lmtp_rcpt_check_quota = yes
# Haraka has written the Received header that matters; Dovecot's would only
# say the message came over a local socket, in every stored message.
lmtp_add_received_header = no
`

  // Dovecot's sql driver escapes %u for SQL itself. The address is stored
  // lower-case and auth_username_format lower-cases the login (%Lu default).
  const sql = `# Generated by Outpost. How Dovecot reads Outpost's accounts table.
# Column names are part of server/db/schema.ts: change both together.
# https://doc.dovecot.org/2.3/configuration_manual/authentication/sql/
driver = sqlite
connect = ${p.db}
# password_hash already starts with {ARGON2ID}; this only names the scheme a
# bare hash would have.
default_pass_scheme = ARGON2ID
# %{secured} is "TLS" only over TLS; Dovecot also calls loopback connections
# "secured" and would let them log in without TLS despite ssl = required.
password_query = SELECT address AS user, password_hash AS password FROM accounts WHERE address = '%u' AND '%{secured}' = 'TLS'
# quota_rule: the account's own quota when it has one, else the node's.
user_query = SELECT address AS user, '*:storage=' || COALESCE(quota_mb, ${quotaMb}) || 'M' AS quota_rule FROM accounts WHERE address = '%u'
# For doveadm -A (mail expiry).
iterate_query = SELECT address AS user FROM accounts
`
  return { 'dovecot.conf': conf, 'dovecot-sql.conf.ext': sql }
}

/**
 * Auth worker processes at most (see authWorkerSection). The accounts are in
 * SQLite, whose driver blocks, so Dovecot runs every passdb and userdb lookup
 * and the Argon2id check of every login in a worker of its own.
 */
export const AUTH_WORKERS = 2

/** IMAP connections one imap process serves (see service imap below): a group's phones and more. */
export const IMAP_CLIENTS_PER_PROCESS = 50
/** imap processes at most: IMAP_CLIENTS_PER_PROCESS × this connections in all. */
export const IMAP_PROCESSES = 20
/** How long an imap-login process (and on 2.3 an auth worker) may sit idle before Dovecot ends it (see the services below). */
export const IDLE_KILL = '10 secs'

/** Where every 2.4 link points: the documentation of the release Debian 13 ships. */
const DOCS_24 = 'https://doc.dovecot.org/2.4.1'

function render24(v: ConfValues): DovecotFiles {
  const { root, p, lmtpListener, name, group, uid, gid, address, imapPort, imapsPort, quotaMb, maxMessage } = v
  const setting = (s: string) => `${DOCS_24}/core/summaries/settings.html#${s}`
  // Dovecot's sql driver escapes %{user} for SQL itself. The address is
  // stored lower-case and auth_username_format lower-cases the login
  // (%{user | lower} is the default).
  const conf = `# Generated by Outpost from outpost.toml. Do not edit: it is rewritten at every start.
# Dovecot 2.4 reference: ${DOCS_24}/core/summaries/settings.html
# Only non-default settings are written, each with its reason.

# 2.4 reads every setting with the names and defaults of the version named
# here, so a later 2.4.x keeps this file's meaning; it must come first.
# 2.4.0 and not 2.4.1: any 2.4 release accepts it, and an LMTP process
# keeps serving delivery after delivery. With 2.4.1's defaults every
# delivery (one LMTP connection from Haraka each) starts a fresh process:
# measured on trixie, 110-150 ms a message instead of 25-29 ms, and no safer
# when all mailboxes have one owner.
# ${setting('dovecot_config_version')}
dovecot_config_version = 2.4.0
# The oldest Dovecot that must read the indexes written here: the oldest
# 2.4, so going back to any 2.4 release keeps the mail readable.
# ${setting('dovecot_storage_version')}
dovecot_storage_version = 2.4.0

${instanceSection(v)}
${root ? rootSection(name) + anvilSection24(group) : nonRootSection(name, group, `${DOCS_24}/core/config/system_users.html`)}
# Every mail process runs as this one uid/gid; nothing else is ever valid,
# so a bad userdb answer cannot make Dovecot act as another user.
# ${DOCS_24}/core/config/system_users.html
first_valid_uid = ${uid}
last_valid_uid = ${uid}
first_valid_gid = ${gid}
last_valid_gid = ${gid}

# --- TLS ------------------------------------------------------------------
# ${DOCS_24}/core/config/ssl.html
# required: no authentication before TLS. Dovecot still lets a client whose
# local and remote IP are the same (loopback, or the box itself) log in
# without TLS, calling it "secured"; the passdb query below closes that gap.
# Phones on the hotspot share its Wi-Fi with everyone else there, and
# nothing on the box needs a plaintext login.
ssl = required
ssl_server_cert_file = ${p.cert}
ssl_server_key_file = ${p.key}
# TLS 1.2 is what older Android phones still speak; anything older is
# broken. Dovecot 2.4's default, written down because the phones depend on it.
ssl_min_protocol = TLSv1.2

# --- Listeners ------------------------------------------------------------
# ${DOCS_24}/core/config/service.html
${listenerSections('listen', '2.4', { address, imapPort, imapsPort, root, lmtpListener, name })}

# --- Accounts -------------------------------------------------------------
# Outpost's own database is the one list of accounts: Dovecot reads the
# accounts table (sqlite driver of dovecot-sqlite) and Haraka checks the same
# Argon2id hash, so there is nothing to keep in sync. Column names are part
# of server/db/schema.ts: change both together.
# ${DOCS_24}/core/config/auth/databases/sql.html
sql_driver = sqlite
# The node's database; the passdb and userdb share one connection to it.
sqlite_path = ${p.db}
passdb sql {
  # %{secured} is "TLS" only over TLS; Dovecot also calls loopback
  # connections "secured" and would let them log in without TLS despite
  # ssl = required.
  query = SELECT address AS user, password_hash AS password FROM accounts WHERE address = '%{user}' AND '%{secured}' = 'TLS'
  # password_hash already starts with {ARGON2ID}; this only names the scheme
  # a bare hash would have.
  default_password_scheme = ARGON2ID
}
# The userdb reads the same table, so an address that is not there is
# unknown to LMTP too ("550 5.1.1 User doesn't exist"), and doveadm -A can
# list every account (a static userdb cannot be iterated, and the daily
# expiry runs doveadm expunge -A).
# ${DOCS_24}/core/config/auth/userdb.html
userdb sql {
  # quota_storage_size: the account's own quota when it has one, else the node's.
  query = SELECT address AS user, COALESCE(quota_mb, ${quotaMb}) || 'M' AS quota_storage_size FROM accounts WHERE address = '%{user}'
  # For doveadm -A (mail expiry).
  iterate_query = SELECT address AS user FROM accounts
  # Every account has the same shape, so home, uid and gid are computed
  # here rather than stored.
  fields {
    uid = ${uid}
    gid = ${gid}
    home = ${p.mail}/%{user | domain}/%{user | username}
  }
}

# --- Mail storage ---------------------------------------------------------
# Maildir: one file per message, written to tmp/ and renamed into new/, so a
# crash never leaves a half-written message visible.
# ${DOCS_24}/core/config/mailbox/formats/maildir.html
mail_driver = maildir
mail_path = ~/Maildir
# optimized (Dovecot's default, kept on purpose): before LMTP answers 250,
# Dovecot fsyncs the message file and, after renaming it into new/,
# fdatasyncs new/ itself (maildir-save.c: maildir_transaction_fsync_dirs), so
# an accepted message survives power loss. "always" would also fsync index and
# cache files after every change; those are rebuilt from the Maildir when
# lost, so the extra writes would only wear the SD card.
# ${setting('mail_fsync')}
mail_fsync = optimized

namespace inbox {
  # Delta Chat on a chatmail server uses INBOX only.
  inbox = yes
}

# IDLE: Dovecot learns of new mail through inotify and tells clients at once
# (after its built-in 0.5 s debounce). The "still here" keepalive every two
# minutes (Dovecot's default, written down because Delta Chat depends on it)
# keeps phones' and hotspots' NAT entries for idle connections alive.
# ${setting('imap_idle_notify_interval')}
imap_idle_notify_interval = 2 mins

${XCHATMAIL_REASON}
# ${setting('imap_capability')}
imap_capability {
  XCHATMAIL = yes
}

# --- Quota ----------------------------------------------------------------
# ${DOCS_24}/core/plugins/quota.html
# A full SD card would stop delivery for everyone; a per-account quota stops
# only the account that filled it.
mail_plugins {
  quota = yes
}
protocol imap {
  # Adds the QUOTA capability: Delta Chat shows the storage in use.
  mail_plugins {
    imap_quota = yes
  }
}
# One quota root, counted in the Maildir++ maildirsize file. As in 2.3, the
# last message may take an account over its limit, by up to
# quota_storage_grace (Dovecot's default, 10 MB; 2.3 allowed 10 %).
quota "User quota" {
  driver = maildir
}
# The node default, for doveadm runs without a userdb lookup; every
# account's limit comes from the userdb query (accounts.quota_mb or this).
# Outside the quota block, so that the userdb's field overrides it.
quota_storage_size = ${quotaMb}M
# Haraka refuses larger messages already; this keeps IMAP APPEND in line.
quota_mail_size = ${maxMessage}
${pushSection('2.4', v.pushModuleDir)}
# --- LMTP (Haraka → Dovecot) ------------------------------------------------
# ${setting('lmtp_rcpt_check_quota')}
protocol lmtp {
  # Dovecot's default, kept on purpose: user+detail@ must never be filed into
  # another folder, Delta Chat reads INBOX only.
  lmtp_save_to_detail_mailbox = no
}
# Our addresses may contain "+" (see accounts/address.ts), and each is an
# account of its own: no part of a local part is a "detail".
recipient_delimiter =
# An over-quota recipient is refused at RCPT time, so Haraka gets a per-
# recipient answer before DATA and can tell the sender which one failed.
lmtp_rcpt_check_quota = yes
# Haraka has written the Received header that matters; Dovecot's would only
# say the message came over a local socket, in every stored message.
lmtp_add_received_header = no
`
  return { 'dovecot.conf': conf }
}

// --- IDLE push without the 0.5 s wait ----------------------------------
// Its own block, written only when the node found a build of the
// outpost_push plugin for the installed Dovecot (push.ts decides, and
// `outpost start` logs which push is in use). Without it the block is
// empty and Dovecot pushes the stock way.
function pushSection(version: DovecotVersion, moduleDir: string | undefined): string {
  if (moduleDir === undefined) return ''
  const why = `
# --- IDLE push at once (the outpost_push plugin) ---------------------------
# Stock Dovecot waits a hard-coded 0.5 s (NOTIFY_DELAY_MSECS in
# src/lib-storage/mailbox-watch.c) before it tells an idling client about new
# mail: most of the time from one phone to the other on one box. The plugin
# (server/dovecot/push-plugin/) tells the client as soon as the mail lands
# and leaves Dovecot's own watch in place as the safety net. IMAP only: LMTP
# and everything else load Dovecot's modules as they always do.
protocol imap {
  # The node's own module folder: links to Dovecot's modules plus the
  # plugin, so nothing is added to Dovecot's folder, with or without root.
  mail_plugin_dir = ${moduleDir}`
  return version === '2.3'
    ? `${why}
  # $mail_plugins is what IMAP has so far (quota imap_quota), in 2.3 too.
  mail_plugins = $mail_plugins outpost_push
}
`
    : `${why}
  mail_plugins {
    outpost_push = yes
  }
}
`
}

function rootSection(name: string): string {
  return `# --- Running as root ----------------------------------------------------
# The master starts as root so it can bind any port; login and internal
# processes use the dovenull and dovecot users that the dovecot-core package
# creates (login ones chrooted), mail processes the uid below. The auth worker keeps Dovecot's default (root): in this mode the
# database belongs to root, and SQLite in WAL mode needs write access to its
# -shm file even to read.
# The LMTP socket is owned by ${name}, the user Haraka runs as.
`
}

/**
 * 2.4 as root: the mail processes (LMTP, imap) run as the node's user and
 * report their sessions to anvil, whose socket 2.4.1 makes root's alone
 * (0600); every delivery then logged "net_connect_unix(.../anvil) failed:
 * Permission denied" into the log the web admin shows. 2.4.2 gives the
 * socket to the internal group (0660) by default; here that group is the
 * node's, the mail processes' own.
 */
function anvilSection24(group: string): string {
  return `# The mail processes run as the node's user and report their sessions to
# anvil; 2.4.1 keeps its socket root's alone (2.4.2 opens it to a group).
service anvil {
  unix_listener anvil {
    group = ${group}
    mode = 0660
  }
}
`
}

function nonRootSection(name: string, group: string, docs: string): string {
  return `# --- Running without root ---------------------------------------------
# ${docs}
# Every Dovecot process runs as the user that started it; Dovecot's default
# dovecot/dovenull users would need root to switch to.
default_internal_user = ${name}
default_internal_group = ${group}
default_login_user = ${name}

# chroot needs root; anvil chroots to an empty dir by default.
service anvil {
  chroot =
}
service imap-urlauth-login {
  chroot =
}
`
}

/** The instance's own dirs, log, protocols and host name: the same text on 2.3 and 2.4. */
function instanceSection(v: ConfValues): string {
  const { p, paths, domain } = v
  return `# --- A private instance -------------------------------------------------
# Nothing is included from /etc/dovecot, so a system Dovecot (or its
# package's defaults) cannot change how this node behaves.

# Sockets and master.pid live in the node's data dir, so several nodes and a
# system Dovecot can run side by side.
base_dir = ${p.base}
# Dovecot keeps its instance list and similar state here instead of /var/lib/dovecot.
state_dir = ${p.state}
# Names the processes in ps and lets doveadm -i find this instance.
instance_name = ${dovecotInstanceName(paths)}
# One log file per node, next to Haraka's; Outpost shows it in the web admin.
log_path = ${p.log}
# IMAP for the phones, LMTP for Haraka. No POP3, no submission (Haraka does SMTP).
protocols = imap lmtp
# No statistics: every process would report its events to a stats process
# (4 MB RSS on 2.4, 3.5 MB on 2.3) that nothing here reads; Outpost defines
# no metrics and never runs doveadm stats. With the path empty, no process
# writes to it and Dovecot never starts one.
stats_writer_socket_path =
# The name LMTP greets Haraka with and puts into mail Dovecot itself writes;
# the box's OS host name (often "raspberrypi") means nothing to users.
hostname = ${domain}
`
}

/**
 * IMAP's listeners and LMTP's socket, the same on 2.3 and 2.4 but for the
 * name of the listener's address setting (2.4 renamed `address` to `listen`).
 */
function listenerSections(
  addressKey: 'address' | 'listen',
  version: DovecotVersion,
  o: { address: string; imapPort: number; imapsPort: number; root: boolean; lmtpListener: string; name: string },
): string {
  const { address, imapPort, imapsPort, root, lmtpListener, name } = o
  // 2.4 renamed service_count and idle_kill.
  const reuse = version === '2.3' ? 'service_count = 0' : 'restart_request_count = unlimited'
  const idleKill = version === '2.3' ? 'idle_kill' : 'idle_kill_interval'
  const lmtpReuse = version === '2.3' ? 'service_count = 1' : 'restart_request_count = 1'
  return `# Memory: a group is about 30 phones, each holding one IMAP connection in
# IDLE all day. With Dovecot's defaults every phone costs an imap-login
# process (it keeps proxying the TLS after login) and an imap process, about
# 14 MB RSS together: 30 phones made the node 763 MB RSS (194 MB PSS).
# The settings below serve them from a few long-lived processes instead.
# ${version === '2.3' ? 'https://doc.dovecot.org/2.3/admin_manual/login_processes/' : `${DOCS_24}/core/config/service.html`}
service imap-login {
  # High-performance mode: one login process (it is never restarted) takes
  # every connection and does the TLS for all of them, instead of one
  # process per connection. The isolation that per-connection processes give
  # against a bug in the pre-login code matters less on a box whose clients
  # are the group's own phones than running out of memory does.
  ${reuse}
  # With no phone connected the login process (7 MB RSS) ends soon, as LMTP's
  # do; the next phone to connect starts one again, which takes milliseconds.
  ${idleKill} = ${IDLE_KILL}
  # STARTTLS: what Delta Chat's dclogin QR codes from Outpost ask for.
  inet_listener imap {
    ${addressKey} = ${address}
    port = ${imapPort}
  }
  # Implicit TLS, for clients that prefer it.
  inet_listener imaps {
    ${addressKey} = ${address}
    port = ${imapsPort}
    ssl = yes
  }${root ? '' : `
  # chroot needs root.
  chroot =`}
}

service imap {
  # A whole group's phones in one imap process: all mailboxes belong to one
  # system user (first_valid_uid = last_valid_uid), so a process per
  # connection separates nothing (one process can hold several users'
  # sessions only because they share that uid). Each extra process costs about 6 MB RSS; 30 phones in
  # IDLE were 3 processes (29 MB) at 10 a process and are one at ${IMAP_CLIENTS_PER_PROCESS}
  # (docs/performance.md). IMAP sessions in one process take turns, so a
  # slow command of one phone delays the others; IDLE costs nothing and
  # Delta Chat's fetches are small. A crash of the process drops every
  # phone in it, and each reconnects at once, as after a Wi-Fi gap.
  client_limit = ${IMAP_CLIENTS_PER_PROCESS}
  # Dovecot's default ends an imap process after its first client, which
  # would make client_limit useless.
  ${reuse}
  # Room for ${IMAP_CLIENTS_PER_PROCESS} × ${IMAP_PROCESSES} connections, far more than a box serves. Dovecot's
  # default (1024) would let long-lived imap processes outnumber the auth
  # service's connections, which doveconf warns about.
  process_limit = ${IMAP_PROCESSES}
}

${authWorkerSection(version)}

service lmtp {
  # An LMTP process serves one session at a time, so a burst of Haraka's
  # parallel sessions starts several (about 11 MB RSS each on 2.3, 18 MB on
  # 2.4), and Dovecot's default keeps them a minute after the burst. Each
  # process now ends with its session: the node keeps a session open for
  # the next message for a second (LMTP_IDLE_MS in server/delivery/lmtp.ts),
  # which is where reuse pays, and a process left idle after that only held
  # memory until Dovecot's idle kill, 10 to 20 seconds later. The next
  # delivery after a quiet second starts a process
  # (docs/performance.md has what that costs).
  # client_limit stays 1 (one Haraka session a process): with 4, 30 phones
  # and their senders needed one process instead of three (22 MB less), but
  # a process stores one message at a time, and the LMTP step with 20
  # senders grew from 127 to 186 ms (p50; docs/performance.md).
  # process_limit stays Dovecot's default: the node bounds its own sessions
  # (LMTP_SESSIONS a process), and a lower cap here would leave a new session
  # waiting for one that the node holds open for its next message.
  ${lmtpReuse}
  # Haraka delivers here. A Unix socket instead of TCP: only local processes
  # that can open the data dir reach it, and no port can clash.
  unix_listener ${lmtpListener} {
    mode = 0600
    user = ${name}
  }${root ? `
  # Dovecot's default would run LMTP as root; every mailbox belongs to one
  # user, so LMTP needs nothing more than that user's rights.
  user = ${name}` : ''}
}`
}

/**
 * How many auth workers may run and how long an idle one stays: 2.3 has its
 * own setting for the number, 2.4 uses the service's process_limit.
 */
function authWorkerSection(version: DovecotVersion): string {
  if (version === '2.4') {
    return `# Auth workers: the passdb and userdb are SQLite, whose driver blocks, so
# every lookup (an IMAP login, each LMTP recipient's userdb lookup) and every
# login's Argon2id check (19 MiB) runs in an auth-worker process, one request
# at a time. With Dovecot's default of 30, 30 phones logging in at once
# left a worker per login (30 phones: auth ×31, 215 MB RSS).
# ${AUTH_WORKERS} take the requests in turn, as on 2.3 (docs/performance.md).
# ${DOCS_24}/core/config/service.html
service auth-worker {
  # 2.4 has no auth_worker_max_count: the auth process learns this limit
  # from the first worker it talks to, and until then opens a worker
  # connection for every lookup waiting, of which the master serves only
  # ${AUTH_WORKERS}. So the node makes one userdb lookup right after each start
  # of Dovecot, before it reports ready (warmUpDovecotAuth in process.ts).
  process_limit = ${AUTH_WORKERS}
  # Workers never end when idle, unlike 2.3's. In 2.4.1 an idle worker
  # tells the auth process it is shutting down, is still handed the next
  # lookup, and is dropped after answering it without a new worker being
  # started: with the limit reached, the lookups queued behind it wait
  # forever. 30 phones logging in 15 s after a burst of deliveries all hung
  # until imap-login gave up after 90 s ("Login request timed out"). The
  # auth process itself closes all but one idle worker after 5 minutes, so
  # one worker (about 6 MB RSS) stays.
  idle_kill_interval = infinite
}`
  }
  return `# Auth workers: the passdb and userdb are SQLite, whose driver blocks, so
# every lookup (an IMAP login, each LMTP recipient's userdb lookup) and every
# login's Argon2id check (19 MiB) runs in an auth-worker process, one request
# at a time. With Dovecot's default of 30, a burst of deliveries and 30
# phones logging in left 6 workers of about 6 MB RSS each for a minute.
# ${AUTH_WORKERS} take the requests in turn: Argon2 is CPU-bound, so on two cores more
# workers only add memory; on a Pi's four, 30 logins at once take longer
# (docs/performance.md has the figures).
# 2.3 counts its workers with auth_worker_max_count. A process_limit on
# the service below instead leaves the auth process's extra connections
# unanswered until the master drops them, and their lookups fail: most
# likely why a burst had lookups aborted ("Worker process died
# unexpectedly") when process_limit = 4 was tried here.
# 2.3's auth process reads this from the config, so it needs none of the
# warm-up 2.4 does (see 2.4's service auth-worker); the node makes that one
# lookup after starting either version, and here it only shows that the
# userdb answers.
# https://doc.dovecot.org/2.3/settings/core/#core_setting-auth_worker_max_count
auth_worker_max_count = ${AUTH_WORKERS}
service auth-worker {
  # A worker left idle after a burst of logins or deliveries ends soon, as
  # LMTP's do; the next lookup starts one again in milliseconds.
  idle_kill = ${IDLE_KILL}
}`
}
