// `outpost start`: the node in the foreground. Starts Dovecot and Haraka as
// supervised children from configs rendered out of outpost.toml (or Haraka
// inside this process, with [smtp] haraka = "in-process"), serves the web
// app, prints one line when everything answers, and stops it all on
// SIGINT/SIGTERM.
import { chmodSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { openNode, type NodeContext } from '../context/context.js'
import { Supervisor } from './supervisor.js'
import { exec } from '../base/exec.js'
import { appRoot } from '../base/app-root.js'
import { buildApp } from '../web/app.js'
import { AdminAuth } from '../admin/auth.js'
import { formatSetupCode, SetupCodeFile } from '../admin/setup-code.js'
import { exchangeInbox } from '../web/plugins/bundle-inbox.js'
import { probeGreeting } from '../web/plugins/health-probes.js'
import { renderDovecotConf, type DovecotUser } from '../dovecot/config.js'
import {
  checkDovecotInstalled,
  dovecotSpawnArgs,
  prepareDovecotDirs,
  expungeExpired,
  endDovecotStragglers,
  stopStaleDovecot,
  validateDovecotConf,
  writeDovecotConf,
  dovecotModuleDir,
  warmUpDovecotAuth,
} from '../dovecot/process.js'
import { choosePush, describePush, preparePushModuleDir } from '../dovecot/push.js'
import { ensureIdentity } from '../identity/keys.js'
import { Exchange, exchangeServices } from '../exchange/exchange.js'
import { TransportService } from '../transports/service.js'
import { TransportScheduler } from '../transports/scheduler.js'
import { LoraListener } from '../transports/lora/listener.js'
import { startDiscovery } from '../transports/discovery/mdns.js'
import { rememberSighting } from '../transports/discovery/sightings.js'
import { signFingerprint } from '../identity/card.js'
import { harakaSpawnArgs, renderHarakaConfig, stopStaleHaraka, writeHarakaConfig } from '../haraka/process.js'
import { hostHaraka } from '../haraka/host.js'
import { EventBus, EventLog } from '../events/log.js'
import { createWebServices } from '../web/plugins/services.js'
import { dkimDnsRecord, ensureDkimKey, listDkimKeys } from '../gateway/dkim.js'
import { UplinkMonitor } from '../gateway/monitor.js'
import { UplinkService } from '../gateway/uplink.js'
import { pruneActivity } from '../events/retention.js'
import { AccountUplinkRunner } from '../gateway/account-uplink.js'
import { OutpostError } from '../base/errors.js'

export class StartError extends OutpostError {
  override name = 'StartError'
}

// How long Haraka and Dovecot may take to answer before the start fails.
// OUTPOST_READY_TIMEOUT_S raises it where starting is slow: the Pi image
// sets it, for a Pi 3 or Zero 2 W (and the emulator) starting cold.
const READY_TIMEOUT_MS = (Number(process.env.OUTPOST_READY_TIMEOUT_S) || 60) * 1000
const EXPIRY_INTERVAL_MS = 60 * 60 * 1000
const EVENT_PRUNE_INTERVAL_MS = 24 * 60 * 60 * 1000
/** How soon a smarthost set while the node runs is taken up. */
const SMARTHOST_CHECK_MS = 2000

function log(line: string): void {
  console.error(`${new Date().toISOString()} ${line}`)
}

/** Fails early, naming the service, when another program holds one of our ports. */
export async function checkPortFree(address: string, port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer()
    srv.once('error', (err: NodeJS.ErrnoException) => {
      const where = what === 'gateway inbound' ? 'OUTPOST_GATEWAY_INBOUND_PORT=N or inbound_port in the [gateway] section' : `OUTPOST_PORTS_${what.toUpperCase()}=N or in the [ports] section`
      if (err.code === 'EADDRINUSE') reject(new StartError(`port ${port} (${what}) on ${address} is already in use by another program. Stop it, or choose another port with ${where} of outpost.toml.`))
      else if (err.code === 'EACCES') reject(new StartError(`not allowed to listen on port ${port} (${what}): ports below 1024 need root or CAP_NET_BIND_SERVICE. Use a high port in outpost.toml.`))
      else reject(new StartError(`cannot listen on ${address}:${port} (${what}): ${err.message}`))
    })
    srv.listen({ host: address, port, exclusive: true }, () => srv.close(() => resolve()))
  })
}

async function waitReady(node: NodeContext, stopped: () => boolean): Promise<void> {
  const host = node.config.listen.address === '0.0.0.0' || node.config.listen.address === '::' ? '127.0.0.1' : node.config.listen.address
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    const [smtp, imap] = await Promise.all([probeGreeting(host, node.config.ports.submission, /^220 /), probeGreeting(host, node.config.ports.imap, /^\* OK/)])
    if (smtp.ok && imap.ok) return
    if (stopped()) throw new StartError('stopped before the node was ready')
    if (Date.now() > deadline) {
      throw new StartError(`the node did not come up within ${READY_TIMEOUT_MS / 1000} s: SMTP: ${smtp.detail}; IMAP: ${imap.detail}. See the logs in ${node.paths.log}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** One part of a running node, with the way to stop it. */
interface RunningService {
  name: string
  stop(): unknown
}

/**
 * The node's services in the order they started. Each is added where it
 * starts, together with how it stops; stopAll stops them in reverse, so a
 * service never outlives what it uses, and a start that fails half way stops
 * exactly what had started.
 */
class Services {
  private readonly running: RunningService[] = []

  constructor(private readonly log: (line: string) => void) {}

  /** Records a started service (`it`) and how to stop it; returns `it`. */
  add<T>(name: string, it: T, stop: (it: T) => unknown): T {
    this.running.push({ name, stop: () => stop(it) })
    return it
  }

  async stopAll(): Promise<void> {
    for (let s = this.running.pop(); s; s = this.running.pop()) {
      try {
        await s.stop()
      } catch (err) {
        this.log(`stopping ${s.name} failed: ${(err as Error).message}`)
      }
    }
  }
}

/** A timer that runs `fn` every `ms` and does not keep the process alive. */
function every(ms: number, fn: () => void): NodeJS.Timeout {
  const t = setInterval(fn, ms)
  t.unref()
  return t
}

export async function startNode(data: string): Promise<number> {
  const node = openNode(data)
  for (const w of node.warnings) log(`warning: ${w}`)
  const { config, paths } = node
  const services = new Services(log)
  services.add('database', node, (n) => n.close())
  let stopping = false
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return
    stopping = true
    log(`stopping (${why})`)
    await services.stopAll()
    log('stopped')
  }

  try {
    const sup = services.add('Dovecot and Haraka', new Supervisor(paths.log, log), (s) => s.stop())
    const mail = await startMailServers(node, sup)
    if (mail.harakaInProcess) {
      // Added after the supervisor, so it stops before Dovecot: deliveries in flight still reach it.
      const haraka = await hostHaraka({
        harakaDir: paths.harakaDir,
        logFile: join(paths.log, 'haraka.out.log'),
        log,
        // Where a child Haraka would have exited and been restarted, the node stops; systemd starts it again.
        onFatal: (why) => void shutdown(`error: ${why}`).then(() => process.exit(1)),
      })
      services.add('Haraka', haraka, (h) => h.stop())
    }

    // The activity log: every process records into the events table; this
    // one tails it onto the bus the web admin's websocket listens to.
    const bus = new EventBus()
    const events = new EventLog(node.db, bus)
    services.add('activity log', events.tail(bus), (stopTail) => stopTail())
    const pruneEvents = () => {
      try {
        const { removed, days } = pruneActivity(node.db, events)
        if (removed) log(`activity log: ${removed} events older than ${days} days removed`)
      } catch (err) {
        log(`activity log: pruning failed, will try again tomorrow: ${(err as Error).message}`)
      }
    }
    pruneEvents()
    services.add('activity log pruning', every(EVENT_PRUNE_INTERVAL_MS, pruneEvents), clearInterval)

    // The exchange exists before the web app: peers POST bundles to it (the HTTP transport).
    await ensureIdentity(paths)
    const exchange = new Exchange(node, exchangeServices(node, { events, log }))
    const transportService = new TransportService(node.db, (name) => exchange.peers.get(name) !== undefined)
    // Made now so the web admin can "run now"; it starts its schedule once
    // the node is ready. It stops after the web app, which can start runs.
    const scheduler = services.add('transports', new TransportScheduler({ node, exchange, service: transportService, exec, log, events }, transportService, paths.spool), (s) => s.stop())
    // Made now so the web admin can say which radios listen; it opens them once the node is ready.
    const radios = services.add('radio listener', new LoraListener({ node, exchange, transports: () => transportService.list(), log }), (l) => l.stop())
    // Until the web admin has a password, claiming it needs the setup code;
    // a node set up before setup codes existed gets one here.
    const setupCode = new AdminAuth(node.db).isSetUp() ? undefined : new SetupCodeFile(paths.setupCode).ensure().code
    const app = services.add(
      'web app',
      await buildApp({
        probes: { host: config.listen.address, smtpPort: config.ports.submission, imapPort: config.ports.imap, db: node.db, dataDir: paths.data },
        tls: { key: readFileSync(paths.tlsKey), cert: readFileSync(paths.tlsCert) },
        inbox: exchangeInbox(exchange, join(paths.run, 'uploads')),
        services: createWebServices(node, { exchange, transports: transportService, scheduler, radios, bus, events, log }),
      }),
      (a) => a.close(),
    )
    await app.listen({ host: config.listen.address, port: config.ports.web })

    process.once('SIGINT', () => void shutdown('SIGINT').then(() => process.exit(0)))
    process.once('SIGTERM', () => void shutdown('SIGTERM').then(() => process.exit(0)))

    await waitReady(node, () => stopping)
    // Before "ready": whoever waits for that line may log 30 phones in at once.
    await mail.authWarmedUp()
    const runExpiry = () => {
      if (node.clock.behind() > 0) log(`warning: the system clock is ${Math.round(node.clock.behind() / 1000)} s behind the newest time this node has seen; using ${new Date(node.clock.now()).toISOString()}. Set the clock (date -s, or NTP) to fix it.`)
      // Saved hourly as well as at stop: a power cut keeps the floor of the last hour.
      node.clock.save()
      return expungeExpired(exec, paths, config, node.clock.expiryNow()).catch((err: Error) => log(`mail expiry failed: ${err.message}`))
    }
    void runExpiry()
    // Radios stay open and receiving between runs; before the schedule
    // starts, so the first run borrows the open port instead of opening it.
    await radios.start()
    scheduler.start()
    // A smarthost set or changed (by the CLI or the web admin) while the node
    // runs: Haraka reads the hosts it must use TLS with only at start.
    if (config.gateway.enabled) services.add('smarthost watch', every(SMARTHOST_CHECK_MS, mail.restartHarakaOnNewSmarthost), clearInterval)
    const accountRunner = new AccountUplinkRunner(node, () => mail.uplink.accountForDelivery(), log)
    const monitor = new UplinkMonitor({
      uplink: mail.uplink,
      peers: exchange.peers,
      transports: transportService,
      events,
      runPeer: (peer) => scheduler.runPeer(peer),
      // A gateway sends through Haraka; only a node without one uses the account.
      runAccount: config.gateway.enabled
        ? undefined
        : () =>
            void accountRunner.run().then(
              (r) => log(`uplink: account run: sent ${r.sent}, fetched ${r.fetched}`),
              (err: Error) => log(`uplink: account run failed: ${err.message}`),
            ),
      log,
    })
    monitor.start()
    services.add('uplink monitor', monitor, (m) => m.stop())
    // A node on loopback only is not on any LAN: nothing to announce there.
    if (config.listen.mdns && !isLoopback(config.listen.address)) services.add('LAN discovery', startLanDiscovery(node, exchange, scheduler, log), (d) => d.stop())
    services.add('mail expiry', every(EXPIRY_INTERVAL_MS, () => void runExpiry()), clearInterval)

    // The owner sees this console (or its journal); a stranger on the network does not.
    // Before the ready line, so whoever waits for that line has seen it.
    if (setupCode !== undefined) {
      console.log(`outpost unclaimed: open the web admin and enter the setup code ${formatSetupCode(setupCode)} with a new admin password (\`outpost admin setup-code\` shows it again)`)
    }
    const h = config.node.host
    console.log(
      `outpost ready: ${config.node.domain} — web admin https://${h}:${config.ports.web}/ · SMTP ${h}:${config.ports.submission} (STARTTLS), ${h}:${config.ports.smtps} (TLS) · IMAP ${h}:${config.ports.imap} (STARTTLS), ${h}:${config.ports.imaps} (TLS)`,
    )
    // Stay in the foreground until a signal arrives.
    await new Promise<never>(() => undefined)
    return 0
  } catch (err) {
    await shutdown(`error: ${(err as Error).message}`)
    throw err
  }
}

/**
 * Checks what Dovecot and Haraka need (Dovecot installed, no stale children,
 * free ports), writes their configs from outpost.toml and starts both under
 * the supervisor. Returns the uplink settings, the check that restarts
 * Haraka when the smarthost changes, and the wait for Dovecot's auth warm-up.
 */
async function startMailServers(
  node: NodeContext,
  sup: Supervisor,
): Promise<{ uplink: UplinkService; restartHarakaOnNewSmarthost: () => void; harakaInProcess: boolean; authWarmedUp: () => Promise<void> }> {
  const { config, paths } = node
  // Once per start: the config below is written in this version's language.
  const dovecot = await checkDovecotInstalled(exec)
  // A node killed with -9 may have left children behind (pdeathsig covers
  // most cases; an earlier crash of the machine's init does not).
  await stopStaleHaraka(paths)
  await stopStaleDovecot(paths)
  const ports: [number, string][] = [
    [config.ports.submission, 'submission'],
    [config.ports.smtps, 'smtps'],
    [config.ports.imap, 'imap'],
    [config.ports.imaps, 'imaps'],
    [config.ports.web, 'web'],
    ...(config.gateway.enabled ? ([[config.gateway.inbound_port, 'gateway inbound']] as [number, string][]) : []),
  ]
  for (const [port, what] of ports) await checkPortFree(config.listen.address, port, what)

  const root = process.getuid?.() === 0
  const mailUser = root ? rootMailUser() : currentUser()
  // IDLE push: the outpost_push plugin when it is built for this Dovecot, else stock.
  const push = choosePush({ builds: join(appRoot(), 'dist/dovecot-plugins'), installed: dovecot.installed, env: process.env })
  log(describePush(push))
  const pushModules = push.kind === 'plugin' ? { moduleDir: preparePushModuleDir(paths, await dovecotModuleDir(exec), push.file) } : undefined
  const dovecotFiles = renderDovecotConf({ version: dovecot.version, config, paths, root, user: mailUser, push: pushModules })
  prepareDovecotDirs(paths, root ? mailUser : undefined)
  // As root, the mail user must be able to pass through the data dir to
  // reach the mail dir below it; 0711 lets it traverse but not list or
  // read (the database and TLS key keep their own 0600).
  // The same holds for run/, where Dovecot's sockets live: LMTP, running
  // as the mail user, asks the auth process through one of them.
  if (root) for (const dir of [paths.data, paths.run]) chmodSync(dir, 0o711)
  writeDovecotConf(paths, dovecotFiles)
  await validateDovecotConf(exec, paths.dovecotConf)
  if (config.gateway.enabled) {
    // A gateway signs what it sends; its own domain gets a key on first start.
    const { key, created } = ensureDkimKey(paths.keysDir, config.node.domain)
    if (created) log(`gateway: made a DKIM key for ${key.domain}; publish this record: ${dkimDnsRecord(key)}`)
  }
  const uplink = new UplinkService(node.db, paths.keysDir)
  // On a gateway, Haraka requires TLS for the smarthost it was started with.
  const smarthostHost = (): string | undefined => (config.gateway.enabled ? uplink.describe().smarthost?.host : undefined)
  let harakaSmarthost = smarthostHost()
  const writeHaraka = (): void =>
    writeHarakaConfig(
      paths,
      renderHarakaConfig({ config, paths, pluginDir: join(appRoot(), 'dist/haraka-plugins'), dkimKeys: config.gateway.enabled ? listDkimKeys(paths.keysDir) : [], smarthostHost: harakaSmarthost }),
    )
  writeHaraka()

  const dc = dovecotSpawnArgs(paths)
  // After every start of Dovecot, one userdb lookup goes through an auth
  // worker: Dovecot 2.4's auth process learns only from its first worker how
  // many it may open, and a burst of logins on an auth process that has not
  // learned it can open more worker connections than the master serves,
  // whose lookups then wait unanswered (authWorkerSection in
  // dovecot/config.ts). Any address does; an unknown one is looked up in a
  // worker all the same.
  let authWarmUp: Promise<void> = Promise.resolve()
  const warmUpAuth = (): void => {
    authWarmUp = warmUpDovecotAuth(exec, paths, `auth-warm-up@${config.node.domain}`).then((r) =>
      log(
        r.ok
          ? `dovecot: auth answered its first userdb lookup after ${r.ms} ms`
          : `warning: dovecot: no userdb lookup went through in ${r.ms} ms (${r.detail}); many phones logging in at once may wait for Dovecot's timeouts. See ${join(paths.log, 'dovecot.log')}`,
      ),
    )
  }
  // A login process whose client is still connected outlives the master,
  // and keeps auth, log and anvil alive with it; end those too.
  sup.start({ name: 'dovecot', command: dc.command, args: dc.args, afterStart: warmUpAuth, afterExit: () => void endDovecotStragglers(paths) })
  // A gateway's Haraka restarts when the smarthost changes and runs Haraka's
  // outbound queue: that needs a process of its own (haraka/host.ts says why).
  const harakaInProcess = config.smtp.haraka === 'in-process' && !config.gateway.enabled
  if (config.smtp.haraka === 'in-process' && config.gateway.enabled) log('warning: [smtp] haraka = "in-process" is not used on a gateway; Haraka runs as a child')
  if (harakaInProcess) {
    log('haraka: runs inside this process ([smtp] haraka = "in-process")')
  } else {
    const hk = harakaSpawnArgs(paths)
    sup.start({ name: 'haraka', command: hk.command, args: hk.args, env: hk.env, ipc: true })
  }

  const restartHarakaOnNewSmarthost = (): void => {
    let now: string | undefined
    try {
      now = smarthostHost()
    } catch (err) {
      // The database was busy or the row unreadable: look again next time.
      log(`uplink: cannot read the smarthost setting: ${(err as Error).message}`)
      return
    }
    // A cleared smarthost needs nothing: Haraka just stops being sent there.
    if (!now || now === harakaSmarthost) return
    harakaSmarthost = now
    log(`uplink: smarthost is now ${now}; restarting Haraka so that it requires TLS there`)
    sup.restart('haraka', writeHaraka)
  }
  return { uplink, restartHarakaOnNewSmarthost, harakaInProcess, authWarmedUp: () => authWarmUp }
}

/**
 * Announces this box on the LAN by mDNS and listens for others. A sighting
 * counts only when name and signing-key fingerprint both match a trusted
 * peer; then that peer's HTTP transports run at once, at the seen address.
 */
function startLanDiscovery(node: NodeContext, exchange: Exchange, scheduler: TransportScheduler, log: (line: string) => void): { stop(): Promise<void> } {
  const mine = signFingerprint(exchange.identity.signPublicB64)
  return startDiscovery({
    name: node.config.node.name,
    signFingerprint: mine,
    port: node.config.ports.web,
    log: (line) => log(`mdns: ${line}`),
    onPeer: (s) => {
      const peer = exchange.peers.get(s.name)
      if (!peer || signFingerprint(peer.sign) !== s.signFingerprint) return
      const address = s.addresses[0]
      if (!address) return
      rememberSighting(peer.name, { address, port: s.port, at: Date.now() })
      log(`mdns: peer ${peer.name} seen at ${address}:${s.port}`)
      scheduler.runPeer(peer.name, 'http')
    },
  })
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.')
}

function groupName(gid: number): string {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , id] = line.split(':')
    if (id !== undefined && Number(id) === gid && name) return name
  }
  return String(gid)
}

function currentUser(): DovecotUser {
  const me = userInfo()
  return { name: me.username, group: groupName(me.gid), uid: me.uid, gid: me.gid }
}

/**
 * As root, mail is stored by an unprivileged user: the appliance's own
 * `outpost` system user when it exists, otherwise Debian's `mail` user.
 */
function rootMailUser(): DovecotUser {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'))
  for (const want of ['outpost', 'mail']) {
    const row = passwd.find((f) => f[0] === want)
    if (row && Number(row[2]) > 0) return { name: want, uid: Number(row[2]), gid: Number(row[3]), group: groupName(Number(row[3])) }
  }
  throw new StartError('running as root, but there is neither an `outpost` nor a `mail` system user to store mail as. Create one (`adduser --system --group outpost`) or run Outpost as an ordinary user.')
}
