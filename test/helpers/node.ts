// Runs a real Outpost node for tests: `outpost init` into a temp dir on
// loopback with free high ports, then `outpost start` as a child process.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './ports.js'
import { NODE_FLAGS } from '../../server/base/v8-flags.js'

export const OUTPOST_BIN = fileURLToPath(new URL('../../bin/outpost.mjs', import.meta.url))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OUTPOST_BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

export interface TestNode {
  data: string
  domain: string
  host: string
  ports: { submission: number; smtps: number; imap: number; imaps: number; web: number }
  cli(args: string[]): Promise<CliResult>
  addAccount(local: string): Promise<{ address: string; password: string }>
  dclogin(address: string): Promise<string>
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>
  /** kill -9 of `outpost start` (its children die with it by pdeathsig). */
  kill9(): Promise<void>
  /** Starts `outpost start` again on the same data dir. */
  restart(): Promise<void>
  pid(): number | undefined
  output(): string
  /** Stops the node if running and deletes its data dir. */
  destroy(): Promise<void>
}

export interface NodeOptions {
  domain?: string
  env?: Record<string, string>
  /** false: init only; `restart()` starts it later. */
  start?: boolean
  name?: string
  /** The address on the card and in QR codes (default: the listen address). */
  host?: string
  /** Where the node listens (default 127.0.0.1). */
  listen?: string
  ports?: TestNode['ports']
  /** Runs `outpost start` inside this network namespace (`ip netns exec`). */
  netns?: string
  /** The folder the data dir is made in (default the system's temp dir), for example a small file system. */
  parent?: string
}

export async function startNode(opts: NodeOptions = {}): Promise<TestNode> {
  const domain = opts.domain ?? 'camp.test'
  // Short path: Dovecot's unix sockets live under it and paths are limited to 107 bytes.
  const data = mkdtempSync(join(opts.parent ?? tmpdir(), 'op-'))
  const ports = opts.ports ?? { submission: await freePort(), smtps: await freePort(), imap: await freePort(), imaps: await freePort(), web: await freePort() }
  const env = opts.env ?? {}
  const listen = opts.listen ?? '127.0.0.1'
  const init = await runCli(
    ['init', '--data', data, '--domain', domain, '--host', opts.host ?? listen, '--listen', listen, ...(opts.name ? ['--name', opts.name] : []),
      '--smtp-port', String(ports.submission), '--smtps-port', String(ports.smtps), '--imap-port', String(ports.imap), '--imaps-port', String(ports.imaps), '--web-port', String(ports.web)],
    env,
  )
  if (init.code !== 0) throw new Error(`outpost init failed: ${init.stderr}${init.stdout}`)

  let proc: ChildProcess | undefined
  let out = ''
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      // Started as systemd/outpost.service starts it.
      const argv = [process.execPath, ...NODE_FLAGS, OUTPOST_BIN, 'start', '--data', data]
      // `ip netns exec` execs the command in place, so the pid is the node's own and signals reach it directly.
      const [cmd, ...args] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv
      const p = spawn(cmd!, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      proc = p
      const timer = setTimeout(() => reject(new Error(`node did not get ready in 60 s:\n${out}`)), 60_000)
      const onData = (d: Buffer) => {
        out += d.toString()
        if (out.includes('outpost ready')) {
          clearTimeout(timer)
          resolve()
        }
      }
      p.stdout.on('data', onData)
      p.stderr.on('data', onData)
      p.once('exit', (code, sig) => {
        clearTimeout(timer)
        reject(new Error(`outpost start exited (${sig ?? code}) before it was ready:\n${out}`))
      })
    })
  const waitExit = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())))

  const node: TestNode = {
    data,
    domain,
    host: listen,
    ports,
    cli: (args) => runCli([...args, '--data', data], env),
    async addAccount(local) {
      const address = `${local}@${domain}`
      const r = await runCli(['account', 'add', address, '--data', data], env)
      if (r.code !== 0) throw new Error(`account add failed: ${r.stderr}`)
      const m = /password: (\S+)/.exec(r.stdout)
      if (!m?.[1]) throw new Error(`no password in: ${r.stdout}`)
      return { address, password: m[1] }
    },
    async dclogin(address) {
      const r = await runCli(['account', 'qr', address, '--uri', '--data', data], env)
      if (r.code !== 0) throw new Error(`account qr failed: ${r.stderr}`)
      return r.stdout.trim()
    },
    async stop() {
      const p = proc
      if (!p || p.exitCode !== null || p.signalCode !== null) return
      p.kill('SIGTERM')
      await waitExit(p)
    },
    async kill9() {
      const p = proc
      if (!p) return
      p.kill('SIGKILL')
      await waitExit(p)
    },
    async restart() {
      out = ''
      await launch()
    },
    pid: () => proc?.pid,
    output: () => out,
    async destroy() {
      await node.stop()
      rmSync(data, { recursive: true, force: true })
    },
  }
  if (opts.start !== false) {
    // A node that does not get ready is stopped, so a failed start leaves no process behind.
    await launch().catch(async (err: unknown) => {
      await node.destroy()
      throw err
    })
  }
  return node
}
