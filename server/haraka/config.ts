// Haraka's configuration, rendered from outpost.toml. Pure: the result maps a
// path relative to the Haraka dir (paths.harakaDir, run with `haraka -c`) to
// the file's content; writeHarakaConfig puts it on disk. Every setting that
// differs from Haraka's default says why.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { NodeConfig } from '../config/schema.js'
import type { NodePaths } from '../base/paths.js'
import { writeFileDurable } from '../base/durable.js'
import type { DkimKey } from '../gateway/dkim.js'

export interface HarakaConfigInput {
  config: NodeConfig
  paths: NodePaths
  /** The built folder plugins, dist/haraka-plugins of the installation. */
  pluginDir: string
  /** DKIM keys of the domains a gateway signs for (keys/dkim/). */
  dkimKeys?: readonly DkimKey[]
  /**
   * A gateway's smarthost (its host name or address), when one is set:
   * Haraka then requires STARTTLS with a verified certificate before it
   * logs in there.
   */
  smarthostHost?: string
}

/** Our plugins, in the order their hooks run. */
export const OUTPOST_PLUGINS = ['outpost_auth', 'outpost_policy', 'outpost_deliver'] as const
/** Loaded on a gateway only. */
export const GATEWAY_PLUGINS = ['outpost_inbound_auth', 'outpost_uplink'] as const

/**
 * How long the SPF and DKIM checks of one inbound message may wait for DNS.
 * The result is then recorded as "temperror" and the message goes on: an
 * Internet client waits at most this long per check, and a box with no DNS
 * (tests, a gateway whose resolver is down) is never stalled by them.
 */
export const INBOUND_AUTH_TIMEOUT_SECONDS = 10

/** Headers a gateway's DKIM signature covers: what a reader sees, and what Delta Chat and chatmail look at. */
export const DKIM_SIGNED_HEADERS = ['From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc', 'MIME-Version', 'Content-Type', 'In-Reply-To', 'References', 'Autocrypt', 'Chat-Version']

/** How long Dovecot may take to answer one LMTP command. */
export const LMTP_TIMEOUT_SECONDS = 30

/**
 * Haraka's per-plugin hook timeout for delivery. Its default is 30 s; one
 * slow LMTP reply may already take that long. When it does run out Haraka
 * answers DENYSOFT, and the ledger keeps the client's retry from delivering
 * twice to the recipients that were stored meanwhile.
 */
export const DELIVER_TIMEOUT_SECONDS = 120

/** RFC 7919's ffdhe2048 group, a published constant (see tls.ini below for why it is here). */
const FFDHE2048 = `-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
`

const HEADER = '; Rendered by Outpost from outpost.toml at every start: edits here are overwritten.\n'

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

/** ini values are one line; a value with a line break or ";" would be read as something else. */
function iniValue(key: string, value: string | number): string {
  const v = String(value)
  if (/[\r\n;]/.test(v)) throw new Error(`cannot write ${key}=${JSON.stringify(v)} into a Haraka ini file: line breaks and ";" are not allowed`)
  return v
}

export function renderHarakaConfig(input: HarakaConfigInput): Record<string, string> {
  const { config, paths, pluginDir } = input
  const { listen, ports, limits, node, gateway } = config
  const files: Record<string, string> = {}
  const listeners = [hostPort(listen.address, ports.submission), hostPort(listen.address, ports.smtps)]
  if (gateway.enabled) listeners.push(hostPort(listen.address, gateway.inbound_port))

  files['config/smtp.ini'] = [
    HEADER,
    '; Submission with STARTTLS, and submission with implicit TLS (RFC 8314).',
    ...(gateway.enabled ? ["; A gateway also listens on its inbound port, where the Internet delivers (MX); outpost_policy takes only the group's domains there."] : []),
    `listen=${listeners.join(',')}`,
    '; The port that speaks TLS from the first byte. Haraka assumes 465 otherwise.',
    `smtps_port=${ports.smtps}`,
    '; 0 = no cluster: one process that `outpost start` supervises and stops with one',
    '; signal. With cluster workers (the default nodes=1 forks one) a stale worker can',
    '; keep the ports after its master has gone.',
    'nodes=0',
    '',
  ].join('\n')

  files['config/plugins'] = [
    '# Rendered by Outpost from outpost.toml at every start: edits here are overwritten.',
    '# Nothing here lets a client send without AUTH: there is no relay, access or',
    '# host-list plugin, and outpost_policy refuses MAIL FROM before AUTH.',
    '',
    '# STARTTLS on the submission port (the smtps port is TLS without a plugin).',
    'tls',
    '# AUTH PLAIN/LOGIN, only under TLS, against the accounts table, for every client.',
    'outpost_auth',
    '# Sender = login, rate limit, recipients via the router, From: = login.',
    'outpost_policy',
    '# Delivery to Dovecot over LMTP, or into the outbox for a peer (or, on a gateway, for the Internet).',
    'outpost_deliver',
    ...(gateway.enabled
      ? [
          "# A gateway: SPF and DKIM of the Internet's mail on the inbound port only, recorded in",
          '# Authentication-Results (after outpost_policy, so only mail it lets in is looked up).',
          'outpost_inbound_auth',
          "# A gateway: hands the outbox's mail for the Internet to Haraka's outbound queue, and",
          '# chooses where it goes (smarthost, static MX, else DNS MX).',
          'outpost_uplink',
          "# Signs what leaves for the Internet (Haraka's pre_send_trans_email hook); it comes",
          '# after outpost_deliver, so mail that stays in the group is never signed.',
          'dkim',
        ]
      : []),
    '',
  ].join('\n')

  files['config/tls.ini'] = [
    HEADER,
    '[main]',
    "; The node's certificate, made by `outpost init`; read where it lies.",
    `key=${iniValue('key', paths.tlsKey)}`,
    `cert=${iniValue('cert', paths.tlsCert)}`,
    '; A published RFC 7919 group beside this file. Without one Haraka runs',
    '; `openssl dhparam 2048` on first start, which takes seconds on a small board,',
    '; and answers no TLS handshake until it is done.',
    'dhparam=dhparams.pem',
    '; Phones have no client certificates; asking for one only lengthens the handshake.',
    'requestCert=false',
    '; TLS 1.0 and 1.1 are broken and every Delta Chat build speaks 1.2 or newer.',
    'minVersion=TLSv1.2',
    '',
    ...(gateway.enabled && input.smarthostHost
      ? [
          '[outbound]',
          '; The smarthost gets our password (AUTH), so it must never be sent in the clear',
          '; or to whoever answers in its place: Haraka asks for STARTTLS there, checks the',
          "; certificate against the system's CAs (and NODE_EXTRA_CA_CERTS), and tries",
          '; again later rather than deliver without. Haraka reads this list only at start,',
          '; so the node restarts Haraka when the smarthost changes.',
          `force_tls_hosts=${iniValue('force_tls_hosts', input.smarthostHost)}`,
          '',
        ]
      : []),
  ].join('\n')
  files['config/dhparams.pem'] = FFDHE2048

  // Haraka 3.3 reads its size limit from connection.ini [max] bytes (the old
  // config/databytes file is no longer read). Haraka needs every section of
  // this file (without [message] and [uuid] the first connection crashes it),
  // so it is written whole, with the values of Haraka's sample
  // connection.ini (which `haraka -i` would have copied) except where noted.
  files['config/connection.ini'] = [
    HEADER,
    '[haproxy]',
    '; No proxy stands in front of this node; a PROXY header must not be able to claim another address.',
    'enabled=false',
    '',
    '[headers]',
    "; Haraka's sample values: a bound on parsed header lines, and a mail-loop stop.",
    'max_lines=1000',
    'max_received=100',
    '',
    '[max]',
    '; outpost.toml limits.max_message_bytes: advertised as SIZE in EHLO, refused at',
    '; MAIL FROM when declared larger, and at the end of DATA when it is larger.',
    `bytes=${limits.max_message_bytes}`,
    "; Haraka's sample values: a bound on MIME parts, and RFC 5321 line lengths.",
    'mime_parts=1000',
    'line_length=512',
    'data_line_length=992',
    '',
    '[message]',
    "; Haraka's sample values.",
    'helo=Haraka is at your service.',
    'close=closing connection. Have a jolly good day.',
    '',
    '[uuid]',
    "; Haraka's sample values: a short session id in the greeting, to find it in the log.",
    'banner_chars=6',
    'deny_chars=0',
    '',
  ].join('\n')

  files['config/outbound.ini'] = gateway.enabled
    ? [
        HEADER,
        '[main]',
        "; A gateway sends the group's mail to the Internet through Haraka's own outbound",
        '; queue (outpost_uplink feeds it from the outbox). It retries, with its default',
        '; intervals (64 s doubling, 12 tries), for about three days before it gives up.',
        'disabled=false',
        "; Opportunistic STARTTLS to the receiving MX, as every MTA does.",
        'enable_tls=true',
        '',
      ].join('\n')
    : [
        HEADER,
        "; Haraka's own outbound delivery stays off. Every message is delivered to",
        '; Dovecot by outpost_deliver or refused before the client is told 250. Should',
        '; anything ever land in the queue dir anyway, it waits there: never sent to the',
        '; Internet and never bounced.',
        'disabled=true',
        '',
      ].join('\n')

  if (gateway.enabled) {
    files['config/dkim.ini'] = [
      HEADER,
      '[sign]',
      '; Chatmail servers and most providers want DKIM aligned with the From: domain;',
      '; the keys are in config/dkim/<domain>/ (from keys/dkim/, made by `outpost dkim`).',
      'enabled=true',
      `headers=${DKIM_SIGNED_HEADERS.join(',')}`,
      '',
      '[verify]',
      "; Off here: this plugin would verify every listener's mail. outpost_inbound_auth",
      "; runs the same plugin's verifier on the inbound port only, where the Internet delivers.",
      'enabled=false',
      '',
    ].join('\n')
    for (const k of input.dkimKeys ?? []) {
      files[`config/dkim/${k.domain}/private`] = k.privatePem
      files[`config/dkim/${k.domain}/selector`] = `${k.selector}\n`
    }
  }

  // Haraka's name in its greeting and Received headers (it falls back to the machine's host name).
  files['config/me'] = `${node.domain}\n`

  files['config/log.ini'] = [
    HEADER,
    '[main]',
    "; The values of Haraka's sample log.ini: without a log.ini Haraka logs only",
    '; warnings and complains that no format is set. info shows each session and',
    '; every refusal with its reason.',
    'level=info',
    'format=default',
    "; Haraka's output goes into the supervisor's log file as it is; time stamps make",
    "; its lines comparable with the other daemons'.",
    'timestamps=true',
    '',
  ].join('\n')

  files['config/outpost.ini'] = [
    HEADER,
    "; Settings of Outpost's own plugins. They re-read this file when it changes.",
    '[main]',
    "; The node's database, the domain it serves, and Dovecot's LMTP socket.",
    `db=${iniValue('db', paths.db)}`,
    `domains=${iniValue('domains', node.domain)}`,
    `lmtp_socket=${iniValue('lmtp_socket', paths.lmtpSocket)}`,
    "; Where Dovecot keeps the mailboxes: a delivery cut short by a crash is looked up there.",
    `mail_dir=${iniValue('mail_dir', paths.mail)}`,
    "; The outbox's message files: mail for other nodes waits there until they ack it.",
    `spool_dir=${iniValue('spool_dir', paths.spool)}`,
    `hostname=${iniValue('hostname', node.domain)}`,
    '; How long Dovecot may take to answer one LMTP command before delivery is deferred.',
    `lmtp_timeout_seconds=${LMTP_TIMEOUT_SECONDS}`,
    '; Written by Haraka at start so a later `outpost start` can stop a leftover one.',
    `pid_file=${iniValue('pid_file', harakaPidFile(paths))}`,
    '',
    '[limits]',
    '; outpost.toml [limits]: message size, sending rate per account, recipients per message.',
    `max_message_bytes=${limits.max_message_bytes}`,
    `send_per_minute=${limits.send_per_minute}`,
    `send_burst=${limits.send_burst}`,
    `max_recipients=${limits.max_recipients}`,
    '; outpost.toml [storage] min_free_mb: below this much free space, mail gets 452 and never a 250 (outpost_deliver).',
    `min_free_bytes=${config.storage.min_free_mb * 1024 * 1024}`,
    '',
    '[gateway]',
    '; outpost.toml [gateway]: the inbound port without AUTH, for the group\'s domains only.',
    `enabled=${gateway.enabled}`,
    ...(gateway.enabled
      ? [
          `inbound_port=${gateway.inbound_port}`,
          `inbound_domains=${iniValue('inbound_domains', gateway.inbound_domains)}`,
          `inbound_per_minute=${gateway.inbound_per_minute}`,
          `inbound_burst=${gateway.inbound_burst}`,
          `static_mx=${iniValue('static_mx', gateway.static_mx)}`,
          '; SPF and DKIM of inbound mail wait at most this long for DNS, then record "temperror".',
          `auth_timeout_seconds=${INBOUND_AUTH_TIMEOUT_SECONDS}`,
          "; The node's keys: the smarthost password is opened with keys/secrets.key when it is needed, never written here.",
          `keys_dir=${iniValue('keys_dir', paths.keysDir)}`,
        ]
      : []),
    '',
  ].join('\n')

  files['config/outpost_deliver.timeout'] = `${DELIVER_TIMEOUT_SECONDS}\n`

  // Folder plugins (plugins.js looks for plugins/<name>/package.json). "main"
  // points into the installation, so the code is never copied and an upgrade
  // takes effect at the next start.
  for (const name of [...OUTPOST_PLUGINS, ...GATEWAY_PLUGINS]) {
    files[`plugins/${name}/package.json`] = JSON.stringify({ name, private: true, main: join(pluginDir, name, 'index.cjs') }, null, 2) + '\n'
  }
  return files
}

/** Where Haraka records its pid (see outpost.ini pid_file and process.ts). */
export function harakaPidFile(paths: NodePaths): string {
  return join(paths.run, 'haraka.pid')
}

/** Writes the rendered files durably and creates the queue dir Haraka insists on. */
export function writeHarakaConfig(paths: NodePaths, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    if (rel.startsWith('/') || rel.split('/').includes('..')) throw new Error(`refusing to write ${rel} outside ${paths.harakaDir}`)
    // DKIM private keys: readable by the node's user only, as in keys/.
    writeFileDurable(join(paths.harakaDir, rel), content, rel.startsWith('config/dkim/') ? 0o600 : 0o640)
  }
  mkdirSync(paths.harakaQueue, { recursive: true })
  mkdirSync(paths.run, { recursive: true })
}
