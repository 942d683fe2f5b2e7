// A friend's ordinary mail provider on the fake Internet: Debian's Postfix,
// run privately (`postfix -c DIR`), as the MX and the submission server of
// its domain, in front of a Dovecot that stores the mail and serves IMAP.
// The Dovecot (and its accounts) come from an `outpost start` of that
// domain, whose own Haraka is never used: every SMTP step of the provider
// is Postfix's. Mail for any other domain goes to `relay` (the group's
// gateway, standing in for the MX that DNS would name), and a copy of
// everything stored here goes to archive@DOMAIN, so that a test can check
// the DKIM signature of what arrived after the Delta Chat client has
// fetched (and deleted) its own copy.
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import type { Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { postfixMasterCf, relaySocket, waitForPort } from '../../bench/postfix.js'
import { processTree, waitAllGone } from './procs.js'
import { startNode, type TestNode } from './node.js'
import { freePort } from './ports.js'
import { nodePaths } from '../../server/base/paths.js'

const run = promisify(execFile)

export interface Provider {
  domain: string
  /** Postfix's port: MX for the domain, and submission with AUTH (STARTTLS) for its users. */
  smtpPort: number
  node: TestNode
  addAccount(local: string): Promise<{ address: string; password: string }>
  /** A dclogin: URI whose SMTP is Postfix and whose IMAP is the Dovecot. */
  dclogin(address: string): Promise<string>
  /** The raw messages archive@DOMAIN holds (a copy of everything delivered here). */
  archived(): Buffer[]
  maillog(): Promise<string>
  stop(): Promise<void>
}

export function canRunProvider(): string | undefined {
  if (process.getuid?.() !== 0) return 'Postfix needs root to start (it drops to the postfix user itself)'
  if (!existsSync('/usr/sbin/postfix')) return 'Postfix is not installed (apt-get install postfix)'
  return undefined
}

export async function startProvider(o: { domain: string; relay: { host: string; port: number }; smtpPort?: number }): Promise<Provider> {
  const node = await startNode({ domain: o.domain })
  const archive = await node.addAccount('archive')
  const paths = nodePaths(node.data)
  const smtpPort = o.smtpPort ?? (await freePort())
  const dir = await mkdtemp(join(tmpdir(), 'op-isp-'))
  await chmod(dir, 0o755)
  for (const d of ['conf', 'queue', 'data', 'log']) await mkdir(join(dir, d), { mode: 0o755 })
  await run('chown', ['postfix', join(dir, 'data')])
  const saslSocket = join(dir, 'dovecot-auth')
  const relay: Server = await relaySocket(saslSocket, join(paths.dovecotBase, 'auth-client'))
  await chmod(saslSocket, 0o666)
  const conf = join(dir, 'conf')
  const mainCf = [
    'compatibility_level = 3.6',
    `queue_directory = ${join(dir, 'queue')}`,
    `data_directory = ${join(dir, 'data')}`,
    `maillog_file = ${join(dir, 'log', 'maillog')}`,
    `maillog_file_prefixes = ${dir}`,
    'syslog_name = friend-provider',
    `myhostname = mx.${o.domain}`,
    `mydomain = ${o.domain}`,
    `mydestination = ${o.domain}`,
    'local_recipient_maps =',
    `local_transport = lmtp:unix:${paths.lmtpSocket}`,
    'alias_maps =',
    'alias_database =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    // Nothing is trusted by address: relaying needs AUTH, as at a real provider.
    'mynetworks = 127.0.0.1/32',
    'smtpd_client_restrictions =',
    'smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination',
    'smtpd_recipient_restrictions = permit_sasl_authenticated, reject_unauth_destination',
    'biff = no',
    // The stand-in for DNS: every other domain's MX is the group's gateway.
    `relayhost = [${o.relay.host}]:${o.relay.port}`,
    'smtp_tls_security_level = may',
    'smtpd_tls_security_level = may',
    `smtpd_tls_cert_file = ${paths.tlsCert}`,
    `smtpd_tls_key_file = ${paths.tlsKey}`,
    'smtpd_sasl_auth_enable = yes',
    'smtpd_sasl_type = dovecot',
    `smtpd_sasl_path = ${saslSocket}`,
    'smtpd_tls_auth_only = yes',
    `always_bcc = ${archive.address}`,
    // Plus-addresses: user+tag@domain is stored in user's mailbox. Only the
    // envelope is rewritten, so the To: header still shows the tag.
    `recipient_canonical_maps = regexp:${join(conf, 'plus')}`,
    'recipient_canonical_classes = envelope_recipient',
    // Mail that cannot leave yet (the gateway is down) is retried soon, not in 5 minutes.
    'queue_run_delay = 2s',
    'minimal_backoff_time = 2s',
    'maximal_backoff_time = 4s',
  ].join('\n') + '\n'
  await writeFile(join(conf, 'main.cf'), mainCf)
  await writeFile(join(conf, 'plus'), `/^([^+@]+)\\+[^@]*@${o.domain.replace(/\./g, '\\.')}$/ \${1}@${o.domain}\n`)
  await writeFile(join(conf, 'master.cf'), postfixMasterCf(smtpPort))
  const pidFile = join(dir, 'queue', 'pid', 'master.pid')
  const masterPid = (): number | undefined => {
    try {
      const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10)
      return Number.isFinite(pid) ? pid : undefined
    } catch {
      return undefined
    }
  }
  const cleanup = async () => {
    relay.close()
    await rm(dir, { recursive: true, force: true })
    await node.destroy()
  }
  try {
    await run('postfix', ['-c', conf, 'start'], { timeout: 30_000 })
    await waitForPort(smtpPort, 15_000)
  } catch (err) {
    const log = await readFile(join(dir, 'log', 'maillog'), 'utf8').catch(() => '(no maillog)')
    await run('postfix', ['-c', conf, 'stop']).catch(() => undefined)
    await cleanup()
    throw new Error(`the provider's Postfix did not start: ${(err as Error).message}\n${log}`, { cause: err })
  }
  const archiveDir = join(paths.mail, o.domain, 'archive', 'Maildir')
  return {
    domain: o.domain,
    smtpPort,
    node,
    addAccount: (local) => node.addAccount(local),
    async dclogin(address) {
      const uri = await node.dclogin(address)
      return uri.replace(/([?&])sp=\d+/, `$1sp=${smtpPort}`)
    },
    archived() {
      const out: Buffer[] = []
      for (const sub of ['new', 'cur']) {
        let names: string[]
        try {
          names = readdirSync(join(archiveDir, sub))
        } catch {
          continue
        }
        for (const n of names) out.push(readFileSync(join(archiveDir, sub, n)))
      }
      return out
    },
    maillog: () => readFile(join(dir, 'log', 'maillog'), 'utf8').catch(() => ''),
    async stop() {
      const pid = masterPid()
      const tree = pid ? processTree(pid) : []
      await run('postfix', ['-c', conf, 'stop'], { timeout: 30_000 }).catch(() => {
        for (const p of tree) process.kill(p, 'SIGKILL')
      })
      for (const p of await waitAllGone(tree, 15_000)) process.kill(p, 'SIGKILL')
      await cleanup()
    },
  }
}

/**
 * Verifies the DKIM signature of a raw message with python3-dkim (an
 * implementation independent of Haraka's), answering its DNS lookups from
 * `records` (name → TXT value) instead of the network.
 */
export async function dkimVerify(message: Buffer, records: Record<string, string>): Promise<{ ok: boolean; detail: string }> {
  const script = [
    'import sys, json, dkim',
    'records = json.loads(sys.argv[1])',
    'def dnsfunc(name, timeout=5):',
    '    n = name.decode() if isinstance(name, bytes) else name',
    '    v = records.get(n.rstrip("."))',
    '    return v.encode() if v else None',
    'msg = sys.stdin.buffer.read()',
    'd = dkim.DKIM(msg)',
    'ok = d.verify(dnsfunc=dnsfunc)',
    'print("pass" if ok else "fail", d.domain.decode() if d.domain else "", d.selector.decode() if d.selector else "")',
  ].join('\n')
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', script, JSON.stringify(records)], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && !stdout) return reject(new Error(`python3-dkim could not run (apt-get install python3-dkim): ${stderr || err.message}`))
      resolve({ ok: stdout.startsWith('pass'), detail: `${stdout.trim()} ${stderr.trim()}`.trim() })
    })
    child.stdin!.end(message)
  })
}

/** The `SEL._domainkey.DOMAIN. IN TXT ( "…" "…" )` lines that `outpost dkim` prints, as {name: value}. */
export function dkimRecords(output: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of output.matchAll(/^(\S+)\. IN TXT \( (.*) \)$/gm)) out[m[1]!] = [...m[2]!.matchAll(/"([^"]*)"/g)].map((p) => p[1]).join('')
  return out
}
