// The baseline for the benchmarks: Debian's Postfix, as the chatmail relay
// uses it, started privately (own config, queue and data directories in a temp
// dir, listening on one loopback port) and delivering over LMTP into the very
// same Dovecot that the Outpost node runs. Only the SMTP side differs.
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync, readFileSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { processTree, waitAllGone } from '../test/helpers/procs.js'

const run = promisify(execFile)

export interface PostfixOptions {
  domain: string
  port: number
  /** Dovecot's LMTP unix socket. */
  lmtpSocket: string
  /** Dovecot's auth-client socket, for SASL; without it the baseline takes mail without AUTH. */
  authSocket?: string
  tlsCert: string
  tlsKey: string
}

export interface PostfixBaseline {
  port: number
  /** True when SMTP AUTH is offered and required (through Dovecot SASL), as on the Outpost side. */
  auth: boolean
  masterPid(): number | undefined
  stop(): Promise<void>
}

/** main.cf for the private instance; every line differs from the defaults on purpose. */
export function postfixMainCf(o: { dir: string; domain: string; lmtpSocket: string; saslSocket?: string; tlsCert: string; tlsKey: string }): string {
  const lines = [
    'compatibility_level = 3.6',
    // A private instance: nothing of the system's /etc/postfix or /var/spool/postfix is touched.
    `queue_directory = ${join(o.dir, 'queue')}`,
    `data_directory = ${join(o.dir, 'data')}`,
    // Postfix logs to syslog by default, which a bench machine may not run.
    `maillog_file = ${join(o.dir, 'log', 'maillog')}`,
    `maillog_file_prefixes = ${o.dir}`,
    'syslog_name = outpost-bench-postfix',
    `myhostname = ${o.domain}`,
    `mydomain = ${o.domain}`,
    // The test domain is local: everything for it goes to Dovecot, as on a chatmail relay.
    `mydestination = ${o.domain}`,
    // Dovecot knows the accounts; unknown users get LMTP's 550 at delivery time.
    'local_recipient_maps =',
    `local_transport = lmtp:unix:${o.lmtpSocket}`,
    'alias_maps =',
    'alias_database =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'biff = no',
    // The same certificate Outpost's Haraka presents, so both sides pay for the same TLS.
    'smtpd_tls_security_level = encrypt',
    `smtpd_tls_cert_file = ${o.tlsCert}`,
    `smtpd_tls_key_file = ${o.tlsKey}`,
  ]
  if (o.saslSocket) {
    lines.push(
      // chatmail authenticates submission against Dovecot the same way.
      'smtpd_sasl_auth_enable = yes',
      'smtpd_sasl_type = dovecot',
      `smtpd_sasl_path = ${o.saslSocket}`,
      'smtpd_tls_auth_only = yes',
      'smtpd_recipient_restrictions = permit_sasl_authenticated, reject',
    )
  }
  return lines.join('\n') + '\n'
}

/** master.cf: the stock services, none chrooted (the private dirs hold no chroot copy of /etc). */
export function postfixMasterCf(port: number): string {
  const s = (name: string, type: string, priv: string, unpriv: string, wakeup: string, limit: string, command: string) =>
    [name.padEnd(16), type.padEnd(10), priv.padEnd(7), unpriv.padEnd(7), 'n'.padEnd(7), wakeup.padEnd(7), limit.padEnd(7), command].join(' ')
  return [
    s(`127.0.0.1:${port}`, 'inet', 'n', '-', '-', '-', 'smtpd'),
    s('pickup', 'unix', 'n', '-', '60', '1', 'pickup'),
    s('cleanup', 'unix', 'n', '-', '-', '0', 'cleanup'),
    s('qmgr', 'unix', 'n', '-', '300', '1', 'qmgr'),
    s('tlsmgr', 'unix', '-', '-', '1000?', '1', 'tlsmgr'),
    s('rewrite', 'unix', '-', '-', '-', '-', 'trivial-rewrite'),
    s('bounce', 'unix', '-', '-', '-', '0', 'bounce'),
    s('defer', 'unix', '-', '-', '-', '0', 'bounce'),
    s('trace', 'unix', '-', '-', '-', '0', 'bounce'),
    s('verify', 'unix', '-', '-', '-', '1', 'verify'),
    s('flush', 'unix', 'n', '-', '1000?', '0', 'flush'),
    s('proxymap', 'unix', '-', '-', '-', '-', 'proxymap'),
    s('smtp', 'unix', '-', '-', '-', '-', 'smtp'),
    s('relay', 'unix', '-', '-', '-', '-', 'smtp'),
    s('showq', 'unix', 'n', '-', '-', '-', 'showq'),
    s('error', 'unix', '-', '-', '-', '-', 'error'),
    s('retry', 'unix', '-', '-', '-', '-', 'error'),
    s('discard', 'unix', '-', '-', '-', '-', 'discard'),
    // As root: the node's data dir is private to its owner, and the postfix user could not reach the LMTP socket inside it.
    s('lmtp', 'unix', '-', 'n', '-', '-', 'lmtp'),
    s('anvil', 'unix', '-', '-', '-', '1', 'anvil'),
    s('scache', 'unix', '-', '-', '-', '1', 'scache'),
    s('postlog', 'unix-dgram', 'n', '-', '-', '1', 'postlogd'),
  ].join('\n') + '\n'
}

export function canRunPostfix(): string | undefined {
  if (process.getuid?.() !== 0) return 'Postfix needs root to start (it drops to the postfix user itself)'
  if (!existsSync('/usr/sbin/postfix')) return 'Postfix is not installed (apt-get install postfix)'
  return undefined
}

export async function startPostfix(o: PostfixOptions): Promise<PostfixBaseline> {
  const dir = await mkdtemp(join(tmpdir(), 'op-pfx-'))
  // Postfix's daemons run as the postfix user and must traverse to the queue.
  await chmod(dir, 0o755)
  for (const d of ['conf', 'queue', 'data', 'log']) await mkdir(join(dir, d), { mode: 0o755 })
  await run('chown', ['postfix', join(dir, 'data')])

  // smtpd refuses to run as root and Dovecot's auth-client socket is 0600 for
  // Dovecot's own user, so a relay socket the postfix user may open stands in
  // between. It only carries the AUTH exchange, never message data.
  let relay: Server | undefined
  const saslSocket = o.authSocket && existsSync(o.authSocket) ? join(dir, 'dovecot-auth') : undefined
  if (saslSocket && o.authSocket) {
    relay = await relaySocket(saslSocket, o.authSocket)
    await chmod(saslSocket, 0o666)
  }

  const conf = join(dir, 'conf')
  await writeFile(join(conf, 'main.cf'), postfixMainCf({ dir, domain: o.domain, lmtpSocket: o.lmtpSocket, saslSocket, tlsCert: o.tlsCert, tlsKey: o.tlsKey }))
  await writeFile(join(conf, 'master.cf'), postfixMasterCf(o.port))

  const pidFile = join(dir, 'queue', 'pid', 'master.pid')
  const masterPid = (): number | undefined => {
    try {
      // Synchronous on purpose: memory sampling reads the tree synchronously too.
      const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10)
      return Number.isFinite(pid) ? pid : undefined
    } catch {
      return undefined
    }
  }
  const cleanup = async () => {
    relay?.close()
    await rm(dir, { recursive: true, force: true })
  }

  try {
    await run('postfix', ['-c', conf, 'start'], { timeout: 30_000 })
    await waitForPort(o.port, 15_000)
  } catch (err) {
    const log = await readFile(join(dir, 'log', 'maillog'), 'utf8').catch(() => '(no maillog written)')
    await run('postfix', ['-c', conf, 'stop']).catch(() => undefined)
    await cleanup()
    throw new Error(`the private Postfix in ${dir} did not start: ${(err as Error).message}\n${log.split('\n').slice(-15).join('\n')}`, { cause: err })
  }

  return {
    port: o.port,
    auth: saslSocket !== undefined,
    masterPid,
    async stop() {
      const pid = masterPid()
      const tree = pid ? processTree(pid) : []
      await run('postfix', ['-c', conf, 'stop'], { timeout: 30_000 }).catch((err: Error) => {
        process.stderr.write(`postfix -c ${conf} stop failed: ${err.message}; killing its processes\n`)
        for (const p of tree) process.kill(p, 'SIGKILL')
      })
      const left = await waitAllGone(tree, 15_000)
      for (const p of left) process.kill(p, 'SIGKILL')
      await cleanup()
    },
  }
}

/**
 * Postfix flags a TLS session as plain `secured`; Dovecot 2.3 then expands
 * %{secured} to something other than "TLS", and Outpost's passdb, which only
 * accepts logins made over TLS, refuses it. smtpd_tls_auth_only guarantees
 * TLS here, so the relay states it in the form Dovecot understands.
 */
export function markTls(line: string): string {
  return line.startsWith('AUTH\t') ? line.replace(/\tsecured(?=\t|$)/, '\tsecured=tls') : line
}

export function relaySocket(path: string, target: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((client) => {
      const upstream = createConnection(target)
      let pending = ''
      client.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) upstream.write(markTls(line) + '\n')
      })
      client.on('end', () => upstream.end())
      upstream.pipe(client)
      // Either side hanging up ends the pair; Postfix logs any AUTH failure itself.
      client.on('error', () => upstream.destroy())
      upstream.on('error', () => client.destroy())
    })
    server.once('error', reject)
    server.listen(path, () => resolve(server))
  })
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
