// Haraka hosted inside `outpost start` ([smtp] haraka = "in-process"), instead
// of as a supervised child (process.ts). One Node process instead of two
// saves a V8 heap, a second copy of the runtime and of the modules both load.
//
// Haraka can be hosted this way because everything process-wide it does
// lives in two places we do not load or replace:
// - Haraka/haraka.js (its package main, what bin/haraka runs) installs
//   handlers for uncaughtException (exit 1), SIGINT (exit), SIGHUP and
//   'exit', and prepends the Haraka dir's node_modules to NODE_PATH. We load
//   Haraka/server.js directly, so none of them is installed, and do what
//   server.createServer does for nodes=0 ourselves (below), so that a failed
//   listen is an error we can act on, not a rejected promise nobody awaits.
// - logger.dump_and_exit calls process.exit after a fatal error (a port it
//   cannot listen on, the queue dir it cannot read). Here it is replaced: the
//   error goes to `onFatal`, and the node stops in order.
// What stays process-wide, and why it is harmless here:
// - process.env.HARAKA names the Haraka dir: haraka-config, plugins.js and
//   outbound read it (some at require time), so it must be set before the
//   first require and stay set. Children the node starts inherit it; none of
//   them reads it.
// - plugins.js and outbound/index.js listen for process 'message' events,
//   which only come over an IPC channel from a cluster master: `outpost
//   start` has none (systemd starts it without one).
// - Haraka's modules are singletons of the require cache, so one process
//   hosts one Haraka, once. Restarting it means restarting the node, which
//   is why a gateway (whose Haraka restarts when the smarthost changes, and
//   which runs Haraka's outbound queue) keeps Haraka in a child.
// - An exception thrown outside a hook (hooks are guarded, lib/guard.ts)
//   ends the node, where in a child it would end only Haraka; systemd then
//   restarts the whole node.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { createRequire } from 'node:module'
import type { Server as NetServer, Socket } from 'node:net'
import { dirname } from 'node:path'
import { DRAIN_TIMEOUT_MS, deliveriesInFlight, markHosted } from './lib/lifecycle.js'

/** The parts of Haraka's logger.js this host uses or replaces. */
interface HarakaLogger {
  timestamps: boolean
  log_respond: (retval: unknown, msg: unknown, data: { level: string; data: string }) => boolean
  dump_and_exit: (code: number | (() => void)) => void
  dump_logs: (cb?: () => void) => boolean
}

/** The parts of Haraka's server.js this host uses. */
interface HarakaServer {
  cfg: { main: { inactivity_timeout?: number; nodes?: number | string } }
  notes: Record<string, unknown>
  listeners: NetServer[]
  plugins: { server: unknown; load_plugins: () => void; run_hooks: (hook: string, obj: unknown) => void; shutdown_plugins: () => void }
  get_smtp_server: (ep: unknown, inactivityMs: number) => Promise<NetServer | undefined>
  setup_smtp_listeners: (plugins: unknown, type: string, inactivityMs: number) => Promise<void>
  stopListeners: () => void
}

export interface HarakaHostOptions {
  /** The Haraka dir (paths.harakaDir), as `haraka -c` would be given. */
  harakaDir: string
  /** Where Haraka's log lines go: the file a child Haraka's output goes to. */
  logFile: string
  /** The node's own log, for what the host itself has to say. */
  log: (line: string) => void
  /** Haraka hit an error it would have exited on; the node should stop. */
  onFatal: (why: string) => void
}

export interface HostedHaraka {
  /**
   * Closes the SMTP listeners at once (the ports are free when this starts
   * waiting), waits for deliveries in flight (at most DRAIN_TIMEOUT_MS), then
   * ends the sessions still open.
   */
  stop(): Promise<void>
}

export class HarakaHostError extends Error {
  override name = 'HarakaHostError'
}

/** Starts Haraka in this process; resolves once every listener of smtp.ini listens. */
export async function hostHaraka(opts: HarakaHostOptions): Promise<HostedHaraka> {
  if (!markHosted()) throw new HarakaHostError('Haraka is already hosted in this process; it can be started only once per process (restart the node instead)')
  process.env.HARAKA = opts.harakaDir
  const require = createRequire(import.meta.url)

  mkdirSync(dirname(opts.logFile), { recursive: true })
  let out: WriteStream | undefined = createWriteStream(opts.logFile, { flags: 'a' })
  // As in child mode: a full disk must not end the node; Haraka's lines are dropped until it restarts.
  out.on('error', (err) => {
    opts.log(`haraka: its log ${opts.logFile} cannot be written (${err.message}); its output is dropped until the node restarts. Free space on the data dir.`)
    out = undefined
  })

  const { cont } = require('haraka-constants') as { cont: unknown }
  const logger = require('Haraka/logger') as HarakaLogger
  // Haraka writes each log line to stdout when no plugin took it ('log' hook);
  // a child's stdout goes to its log file, so here the line goes there too,
  // the same text (timestamps as log.ini says, no colours).
  logger.log_respond = (retval, _msg, data) => {
    if (retval !== cont) return false
    out?.write(`${logger.timestamps ? `${new Date().toISOString()} ` : ''}${data.data}\n`)
    return true
  }
  let fatal = false
  let starting = true
  logger.dump_and_exit = (code) => {
    logger.dump_logs()
    if (typeof code === 'function') return code()
    if (fatal) return
    fatal = true
    // While starting, the error is thrown below; after that it is the node's to act on.
    if (!starting) opts.onFatal(`Haraka stopped on an error (it would have exited with code ${code}); its log ${opts.logFile} says why`)
  }

  const server = require('Haraka/server') as HarakaServer
  if (server.cfg.main.nodes) throw new HarakaHostError(`smtp.ini in ${opts.harakaDir} sets nodes=${server.cfg.main.nodes}: a hosted Haraka cannot fork cluster workers`)

  // The sessions, so that stop() can end those still open: Haraka keeps no list.
  const sockets = new Set<Socket>()
  const getSmtpServer = server.get_smtp_server
  server.get_smtp_server = async (ep, inactivityMs) => {
    const listener = await getSmtpServer(ep, inactivityMs)
    listener?.on('connection', (s: Socket) => {
      sockets.add(s)
      s.once('close', () => sockets.delete(s))
    })
    return listener
  }

  // server.createServer({}) for nodes=0, without its daemonize (smtp.ini has
  // no daemonize) and with the listeners awaited.
  server.notes = {}
  server.plugins.server = server
  try {
    server.plugins.load_plugins()
  } catch (err) {
    // plugins.js throws a plain string for a plugin it cannot find.
    throw new HarakaHostError(`Haraka could not load its plugins from ${opts.harakaDir}: ${err instanceof Error ? err.message : String(err)}. Is Outpost built (npm run build)?`)
  }
  const inactivityMs = (Number(server.cfg.main.inactivity_timeout) || 300) * 1000
  try {
    await server.setup_smtp_listeners(server.plugins, 'master', inactivityMs)
  } catch (err) {
    // A port another program took since the node checked: the listeners already up must not stay.
    server.stopListeners()
    throw new HarakaHostError(`Haraka could not listen: ${(err as Error).message}. Stop the other program, or choose other ports in outpost.toml.`)
  }
  if (fatal || server.listeners.length === 0) {
    server.stopListeners()
    throw new HarakaHostError(`Haraka did not start listening; its log ${opts.logFile} says why`)
  }
  starting = false

  let stopped: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    server.stopListeners()
    const deadline = Date.now() + DRAIN_TIMEOUT_MS
    while (deliveriesInFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    if (deliveriesInFlight() > 0) opts.log(`haraka: ${deliveriesInFlight()} deliveries still in flight after ${DRAIN_TIMEOUT_MS / 1000} s; stopping anyway`)
    for (const s of sockets) s.destroy()
    server.plugins.shutdown_plugins()
    logger.dump_logs()
    const o = out
    out = undefined
    if (o) await new Promise<void>((r) => o.end(r))
  }
  return {
    stop: () => (stopped ??= stop()),
  }
}
