// Running the node's private Dovecot: checks, writing and validating its
// config, the command line for the supervisor, cleaning up after a crash, and
// the daily expiry. Every system binary goes through the Exec seam.
import { existsSync, mkdirSync, chownSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Exec } from '../base/exec.js'
import { execOk } from '../base/exec.js'
import type { NodeConfig } from '../config/schema.js'
import type { NodePaths } from '../base/paths.js'
import { processAlive, processArgv, waitProcessGone } from '../base/process-table.js'
import { writeFileDurable } from '../base/durable.js'
import { dovecotStateDir, dovecotInstanceName, SQL_CONF_NAME, SUPPORTED_DOVECOT_VERSIONS, type DovecotFiles, type DovecotVersion } from './config.js'
import { OutpostError } from '../base/errors.js'

const INSTALL_HINT = 'apt-get install dovecot-core dovecot-imapd dovecot-lmtpd dovecot-sqlite'

export class DovecotError extends OutpostError {
  override name = 'DovecotError'
}

/**
 * The supported release series a `dovecot --version` line ("2.3.19.1
 * (9b53102964)", "2.4.1-4 (7d8c0e5759)") belongs to. Throws an error that
 * names the supported versions and what to do for any other.
 */
export function supportedDovecotVersion(installed: string): DovecotVersion {
  const m = /^(\d+)\.(\d+)[.\s-]/.exec(installed + ' ')
  const supported = SUPPORTED_DOVECOT_VERSIONS.join(' and ')
  if (!m) {
    throw new DovecotError(
      `"dovecot --version" printed "${installed}", which is not a version Outpost can read. Outpost runs with Dovecot ${supported}: check that the "dovecot" on PATH is Dovecot's server (package dovecot-core).`,
    )
  }
  const version = `${m[1]}.${m[2]}`
  const known = SUPPORTED_DOVECOT_VERSIONS.find((v) => v === version)
  if (known) return known
  // Never suggest installing the distribution's packages here: they are what
  // gave this system the version being refused.
  const older = Number(m[1]) < 2 || (Number(m[1]) === 2 && Number(m[2]) < 3)
  const where =
    'Debian 12 "bookworm" ships Dovecot 2.3, Debian 13 "trixie" and Raspberry Pi OS on trixie ship 2.4; Dovecot\'s own repository (https://repo.dovecot.org) has both for other systems'
  throw new DovecotError(
    older
      ? `Dovecot ${installed} is installed, but Outpost runs only with Dovecot ${supported}, and this one is older. Upgrade Dovecot to 2.3 or 2.4 (${where}), then start Outpost again.`
      : `Dovecot ${installed} is installed, but Outpost runs only with Dovecot ${supported}: it cannot yet write a configuration for Dovecot ${version}. Install Dovecot 2.4 instead (${where}) and keep it from being upgraded (apt-mark hold dovecot-core), or use an Outpost release that supports Dovecot ${version}.`,
  )
}

/**
 * Debian's layout, the same for 2.3 and 2.4: what the checks below look at
 * when doveconf does not answer. The check then names any file missing.
 */
const DEBIAN_DIRS = { libexec_dir: '/usr/lib/dovecot', mail_plugin_dir: '/usr/lib/dovecot/modules' }

/**
 * Where Dovecot keeps its binaries and modules, asked of Dovecot rather than
 * assumed. Not `doveconf -d -h NAME`: Dovecot 2.4.1 on trixie answers that
 * with "Multiple settings matched with -h parameter" (exit 89), sometimes
 * only for the first few calls, in a fresh root for every call and every
 * name tried. `doveconf -d NAME...` prints "NAME = value" lines on 2.3
 * and 2.4 alike; -c /dev/null reads no config at all, so a dovecot.conf in
 * /etc that this version rejects (a 2.3 one after the upgrade to 2.4) or
 * cannot read does not matter. A few quick tries cover a doveconf that fails
 * once; after that Debian's layout is assumed.
 */
async function dovecotDirs(exec: Exec): Promise<{ libexec: string; modules: string; failure?: string }> {
  const names = Object.keys(DEBIAN_DIRS) as Array<keyof typeof DEBIAN_DIRS>
  let failure = ''
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, 100))
    const r = await exec('doveconf', ['-d', '-c', '/dev/null', ...names])
    const found = new Map<string, string>()
    for (const line of r.stdout.split('\n')) {
      const m = /^([a-z_]+) = (\S.*)$/.exec(line.trim())
      if (m) found.set(m[1]!, m[2]!)
    }
    const libexec = found.get('libexec_dir')
    const modules = found.get('mail_plugin_dir')
    if (r.code === 0 && libexec && modules) return { libexec, modules }
    failure = `doveconf -d ${names.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim() || 'no output'}`
  }
  return { libexec: DEBIAN_DIRS.libexec_dir, modules: DEBIAN_DIRS.mail_plugin_dir, failure }
}

/** Dovecot's own mail_plugin_dir, asked of doveconf (Debian's when it does not answer). */
export async function dovecotModuleDir(exec: Exec): Promise<string> {
  return (await dovecotDirs(exec)).modules
}

/**
 * Throws an error naming the packages to install when Dovecot, its IMAP or
 * LMTP server, or its SQLite driver is missing, and refuses any Dovecot but
 * 2.3 and 2.4, the two configuration languages config.ts writes. Returns the
 * version series to render the config for, and the full version string.
 */
export async function checkDovecotInstalled(exec: Exec, exists: (path: string) => boolean = existsSync): Promise<{ version: DovecotVersion; installed: string }> {
  let installed: string
  try {
    installed = (await execOk(exec, 'dovecot', ['--version'])).trim()
  } catch (err) {
    throw new DovecotError(`Dovecot is not installed (${(err as Error).message}). Install it with: ${INSTALL_HINT}`)
  }
  const version = supportedDovecotVersion(installed)
  const { libexec, modules, failure } = await dovecotDirs(exec)
  const needed: Array<[string, string]> = [
    [join(libexec, 'imap'), 'dovecot-imapd'],
    [join(libexec, 'lmtp'), 'dovecot-lmtpd'],
    // The auth process loads SQL drivers from modules/auth (dovecot-sqlite
    // also ships copies for dict and the mail processes).
    [join(modules, 'auth', 'libdriver_sqlite.so'), 'dovecot-sqlite'],
  ]
  const missing = needed.filter(([path]) => !exists(path))
  if (missing.length > 0) {
    const list = missing.map(([path, pkg]) => `${path} (package ${pkg})`).join(', ')
    const guessed = failure ? ` (Debian's paths, because ${failure})` : ''
    throw new DovecotError(`Dovecot ${installed} is installed but incomplete: missing ${list}${guessed}. Install with: ${INSTALL_HINT}`)
  }
  return { version, installed }
}

/**
 * Creates the directories the instance needs. `mailOwner`, when given (root
 * mode), becomes the owner of the mail dir, because the mail processes that
 * create each account's home run as that user, not as root.
 */
export function prepareDovecotDirs(paths: NodePaths, mailOwner?: { uid: number; gid: number }): void {
  for (const dir of [paths.dovecotDir, paths.run, dovecotStateDir(paths), paths.log, paths.mail]) mkdirSync(dir, { recursive: true })
  if (mailOwner) chownSync(paths.mail, mailOwner.uid, mailOwner.gid)
}

/**
 * Writes the rendered files into paths.dovecotDir, each one wholly or not at
 * all, and removes a file an earlier render wrote that this one does not: a
 * 2.3 dovecot-sql.conf.ext left beside a 2.4 dovecot.conf (after the
 * upgrade to trixie) would be read by nothing and mislead whoever looks.
 * Both are generated at every start, so nothing is lost.
 */
export function writeDovecotConf(paths: NodePaths, files: DovecotFiles): void {
  for (const [name, text] of Object.entries(files) as Array<[keyof DovecotFiles, string | undefined]>) {
    if (text !== undefined) writeFileDurable(join(paths.dovecotDir, name), text, 0o644)
  }
  if (files[SQL_CONF_NAME] === undefined) rmSync(join(paths.dovecotDir, SQL_CONF_NAME), { force: true })
}

/**
 * Runs `doveconf -n` on the config, as chatmail does before using one.
 * Returns doveconf's warnings; throws with doveconf's own message when it
 * rejects the file.
 */
export async function validateDovecotConf(exec: Exec, confPath: string): Promise<{ warnings: string[] }> {
  const r = await exec('doveconf', ['-n', '-c', confPath])
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean)
  if (r.code !== 0) {
    throw new DovecotError(
      `Dovecot rejects the generated ${confPath} (doveconf exit ${r.code}): ${lines.join(' / ') || r.stdout.trim()}. ` +
        'Check what it names (TLS certificate and key, users, paths); if those are fine this is a bug in Outpost, please report it with this message.',
    )
  }
  return { warnings: lines.filter((l) => /warning/i.test(l)) }
}

/**
 * The command that runs Dovecot in the foreground (-F), as a child the node
 * supervises: it dies with a signal from us, and its exit is seen at once.
 * The config path is absolute, which stopStaleDovecot relies on.
 */
export function dovecotSpawnArgs(paths: NodePaths): { command: string; args: string[] } {
  return { command: 'dovecot', args: ['-F', '-c', resolve(paths.dovecotConf)] }
}



/** How long the auth warm-up may take in all, start of Dovecot included. */
export const AUTH_WARM_UP_TIMEOUT_MS = 20_000

/**
 * doveadm user's exit codes: 0 for an account found, 67 (EX_NOUSER) for one
 * not found. Either means the lookup ran through an auth worker.
 */
const USERDB_ANSWERED = new Set([0, 67])

/**
 * Makes one userdb lookup (`doveadm user`) through the instance's auth
 * process and waits for it, so that the auth process has talked to an auth
 * worker before any phone logs in. Dovecot 2.4's auth process learns how
 * many workers it may open only from the first worker's handshake; until
 * then every waiting lookup opens a connection of its own, and the master
 * serves only process_limit of them: the lookups sent on the others wait
 * unanswered (authWorkerSection in config.ts).
 * On 2.3 the limit is in the config and this is only a cheap check that
 * the userdb answers.
 *
 * Call it right after Dovecot is started: it tries again while the
 * instance is still starting (its auth socket not there yet) until
 * `timeoutMs` has passed. Any address will do, an unknown one too: the
 * SQLite userdb runs the query in a worker either way. Never throws: the
 * node works without the warm-up, only a burst of logins right after the
 * start may then wait for Dovecot's timeouts.
 */
export async function warmUpDovecotAuth(
  exec: Exec,
  paths: NodePaths,
  address: string,
  opts: { timeoutMs?: number; retryMs?: number } = {},
): Promise<{ ok: true; ms: number; tries: number } | { ok: false; ms: number; tries: number; detail: string }> {
  const started = Date.now()
  const deadline = started + (opts.timeoutMs ?? AUTH_WARM_UP_TIMEOUT_MS)
  const conf = resolve(paths.dovecotConf)
  let detail: string
  let tries = 0
  for (;;) {
    tries++
    const left = Math.max(1, deadline - Date.now())
    try {
      const r = await exec('doveadm', ['-c', conf, 'user', address], { timeoutMs: left })
      if (USERDB_ANSWERED.has(r.code)) return { ok: true, ms: Date.now() - started, tries }
      detail = `doveadm user exited ${r.code}: ${r.stderr.trim() || r.stdout.trim() || 'no output'}`
    } catch (err) {
      detail = (err as Error).message
    }
    if (Date.now() + (opts.retryMs ?? 100) >= deadline) return { ok: false, ms: Date.now() - started, tries, detail }
    await new Promise((r) => setTimeout(r, opts.retryMs ?? 100))
  }
}

/**
 * Stops a Dovecot master left running by an earlier run of this node (a
 * kill -9 of Outpost orphans it, and it keeps the ports and master.pid), then
 * any of its processes that outlived it (see endDovecotStragglers).
 * Only a master whose command line is dovecot with this node's config is
 * touched, so a reused PID or another node's Dovecot is left alone.
 * Returns the master's PID when there was one, and the stragglers ended.
 */
export async function stopStaleDovecot(paths: NodePaths, opts: { termTimeoutMs?: number } = {}): Promise<{ master: number | undefined; stragglers: number[] }> {
  const master = await stopStaleMaster(paths, opts.termTimeoutMs ?? 5000)
  return { master, stragglers: await endDovecotStragglers(paths) }
}

async function stopStaleMaster(paths: NodePaths, termTimeoutMs: number): Promise<number | undefined> {
  const pidFile = join(paths.dovecotBase, 'master.pid')
  let pid: number
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10)
  } catch {
    return undefined
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined
  const argv = processArgv(pid)
  if (!argv || !processAlive(pid)) return undefined
  const isDovecot = (argv[0] ?? '').split('/').pop() === 'dovecot'
  const conf = argv[argv.indexOf('-c') + 1]
  if (!isDovecot || argv.indexOf('-c') < 0 || conf === undefined || resolve(conf) !== resolve(paths.dovecotConf)) return undefined

  // SIGTERM lets the master stop its children and remove its sockets.
  process.kill(pid, 'SIGTERM')
  if (await waitProcessGone(pid, termTimeoutMs)) return pid
  process.kill(pid, 'SIGKILL')
  if (await waitProcessGone(pid, 2000)) return pid
  throw new DovecotError(`a stale Dovecot (PID ${pid}, ${argv.join(' ')}) did not stop after SIGKILL; stop it by hand before starting the node`)
}

/** PIDs of this instance's service processes; Dovecot titles them "dovecot-<instance_name>/<service>". */
function instanceProcesses(paths: NodePaths): number[] {
  const prefix = `dovecot-${dovecotInstanceName(paths)}/`
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const argv = processArgv(Number(entry))
    if (argv?.[0]?.startsWith(prefix) && processAlive(Number(entry))) pids.push(Number(entry))
  }
  return pids
}

/**
 * Ends the instance's processes that outlive their master. When the master
 * stops, a login process still holding a client connection from before
 * login keeps running (and with it auth, log, config, anvil and stats) until
 * that client goes away; the ports are free, but the processes are not gone.
 * Call this after the supervised master has exited. Returns the PIDs ended.
 */
export async function endDovecotStragglers(paths: NodePaths, opts: { termTimeoutMs?: number } = {}): Promise<number[]> {
  const pids = instanceProcesses(paths)
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
    }
  }
  for (const pid of pids) signal(pid, 'SIGTERM')
  const until = Date.now() + (opts.termTimeoutMs ?? 2000)
  while (Date.now() < until && pids.some((pid) => processAlive(pid))) await new Promise((r) => setTimeout(r, 50))
  const left = pids.filter((pid) => processAlive(pid))
  for (const pid of left) signal(pid, 'SIGKILL')
  if (!(await Promise.all(left.map((pid) => waitProcessGone(pid, 2000)))).every(Boolean)) {
    throw new DovecotError(`Dovecot processes ${left.join(', ')} of ${paths.dovecotConf} did not stop after SIGKILL; stop them by hand`)
  }
  return pids
}

/**
 * Deletes expired mail: everything in INBOX saved more than
 * mail.expiry_days ago, and large mail (over mail.large_message_bytes)
 * saved more than mail.large_expiry_days ago. Delta Chat uses INBOX only.
 * Needs the instance running: doveadm -A lists the accounts through it.
 */
/** The save-date cutoff of an expiry run, as doveadm's 10-digit Unix timestamp. */
export function savedBefore(now: number, days: number): string {
  return String(Math.floor((now - days * 24 * 60 * 60 * 1000) / 1000))
}

/**
 * Expunges mail saved more than the configured days before `now`. `now`
 * comes from the node's clock (NodeClock.expiryNow): doveadm's own
 * intervals ("20d") would count from the wall clock, which on a box
 * without a real-time clock may leap years ahead and delete everything.
 */
export async function expungeExpired(exec: Exec, paths: NodePaths, config: NodeConfig, now: number): Promise<void> {
  const { expiry_days, large_expiry_days, large_message_bytes } = config.mail
  for (const [name, n] of [['mail.expiry_days', expiry_days], ['mail.large_expiry_days', large_expiry_days], ['mail.large_message_bytes', large_message_bytes]] as const) {
    if (!Number.isSafeInteger(n) || n < 1) throw new DovecotError(`${name} = ${n} must be a whole number of at least 1`)
  }
  const conf = resolve(paths.dovecotConf)
  // doveadm search keys are ANDed: "larger N savedbefore Dd" is large AND old.
  // savedbefore compares the save date; an absolute Unix timestamp keeps
  // the decision on the node's clock.
  await execOk(exec, 'doveadm', ['-c', conf, 'expunge', '-A', 'mailbox', 'INBOX', 'savedbefore', savedBefore(now, expiry_days)])
  if (large_expiry_days < expiry_days) {
    await execOk(exec, 'doveadm', ['-c', conf, 'expunge', '-A', 'mailbox', 'INBOX', 'larger', String(large_message_bytes), 'savedbefore', savedBefore(now, large_expiry_days)])
  }
}
