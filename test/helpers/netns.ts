// A LAN of the test's own: a network namespace with one LAN interface, on
// which Outpost nodes run and announce themselves by mDNS. Nothing is ever
// sent on this machine's own networks, and every address used lives inside
// the namespace. Needs root (`ip netns add`).
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { OUTPOST_BIN, runCli, type CliResult, type TestNode } from './node.js'

// Children resolve `--import tsx` and bare imports (nodemailer) from here,
// wherever the runner was started.
export const REPO = fileURLToPath(new URL('../..', import.meta.url))

export function run(file: string, args: string[], timeout = 30_000): Promise<CliResult> {
  return new Promise((done) => {
    execFile(file, args, { encoding: 'utf8', timeout, cwd: REPO }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      done({ code, stdout, stderr })
    })
  })
}

export interface Lan {
  /** The namespace's name. */
  ns: string
  /** The one address of the LAN's host, on its dummy interface. */
  address: string
  /** Runs a program inside the namespace and waits for it. */
  exec(file: string, args: string[], timeout?: number): Promise<CliResult>
  /** `count` distinct TCP ports, chosen at random and checked free on the LAN address. */
  freePorts(count: number): Promise<number[]>
  /** Deletes the namespace (its interfaces go with it). Stop what runs inside first. */
  destroy(): Promise<void>
}

async function ip(...args: string[]): Promise<void> {
  const r = await run('ip', args)
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`)
}

/**
 * Makes `<prefix>-<random>` with lo and a LAN interface `lan0` holding
 * `address`/24. lan0 is one end of a veth pair whose other end, `lan1`,
 * stays in the namespace without an address: it is the wire, and drops what
 * arrives. (A dummy interface would do, but many CI kernels and containers
 * lack the dummy module; veth is what container runtimes use, so it is there.)
 * Multicast goes out lan0 so that announcements carry the LAN address as
 * their source, as on a real LAN (sent through lo they would come from
 * 127.0.0.1, where the nodes do not listen). The kernel loops every
 * multicast packet back to the namespace's own member sockets, which is all
 * the nodes need.
 */
export async function makeLan(prefix: string, address = '10.77.0.1'): Promise<Lan> {
  const ns = `${prefix}-${randomBytes(4).toString('hex')}`
  await ip('netns', 'add', ns)
  try {
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
    await ip('-n', ns, 'link', 'set', 'lo', 'multicast', 'on')
    await ip('-n', ns, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1')
    await ip('-n', ns, 'link', 'set', 'lan0', 'multicast', 'on')
    await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'lan0')
    // Both ends up: a veth without its peer has no carrier and sends nothing.
    await ip('-n', ns, 'link', 'set', 'lan1', 'up')
    await ip('-n', ns, 'link', 'set', 'lan0', 'up')
    await ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'lan0')
  } catch (err) {
    await run('ip', ['netns', 'del', ns])
    throw err
  }
  const exec = (file: string, args: string[], timeout?: number) => run('ip', ['netns', 'exec', ns, file, ...args], timeout)
  return {
    ns,
    address,
    exec,
    async freePorts(count) {
      const ports = new Set<number>()
      while (ports.size < count) ports.add(randomInt(20_000, 40_000))
      const want = [...ports]
      // Bound and released inside the namespace, where the nodes will listen.
      const script = `
import { createServer } from 'node:net'
const busy = []
for (const port of ${JSON.stringify(want)}) {
  await new Promise((done) => {
    const srv = createServer()
    srv.once('error', () => { busy.push(port); done() })
    srv.listen({ host: ${JSON.stringify(address)}, port, exclusive: true }, () => srv.close(done))
  })
}
process.stdout.write(JSON.stringify(busy))
`
      const r = await exec(process.execPath, ['--input-type=module', '-e', script])
      if (r.code !== 0) throw new Error(`checking ports in ${ns} failed: ${r.stderr}`)
      const busy = JSON.parse(r.stdout) as number[]
      if (busy.length) throw new Error(`ports ${busy.join(', ')} are taken in the fresh namespace ${ns}; something else runs in it`)
      return want
    },
    async destroy() {
      await run('ip', ['netns', 'del', ns])
    },
  }
}

/**
 * An Outpost node on the LAN: `outpost init` (outside the namespace: it
 * touches no network) listening on the LAN address, with `host` as the
 * address on its card and in its QR codes, and `outpost start` run inside
 * the namespace. Shaped as TestNode so the shared helpers (befriend) work.
 * It is returned stopped, so peers and transports can be set up first;
 * `restart()` starts it.
 */
export async function lanNode(lan: Lan, opts: { name: string; domain: string; host: string }): Promise<TestNode> {
  const data = mkdtempSync(join(tmpdir(), 'op-'))
  const [submission, smtps, imap, imaps, web] = (await lan.freePorts(5)) as [number, number, number, number, number]
  const ports = { submission, smtps, imap, imaps, web }
  const init = await runCli(['init', '--data', data, '--domain', opts.domain, '--name', opts.name, '--host', opts.host, '--listen', lan.address,
    '--smtp-port', String(submission), '--smtps-port', String(smtps), '--imap-port', String(imap), '--imaps-port', String(imaps), '--web-port', String(web)])
  if (init.code !== 0) throw new Error(`outpost init of ${opts.name} failed: ${init.stderr}${init.stdout}`)

  let proc: ChildProcess | undefined
  let out = ''
  const waitExit = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())))
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      // `ip netns exec` execs the command in place, so this pid is the node's own and signals reach it directly.
      const p = spawn('ip', ['netns', 'exec', lan.ns, process.execPath, OUTPOST_BIN, 'start', '--data', data], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
      proc = p
      const timer = setTimeout(() => reject(new Error(`${opts.name} did not get ready in 60 s:\n${out}`)), 60_000)
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
        reject(new Error(`outpost start of ${opts.name} exited (${sig ?? code}) before it was ready:\n${out}`))
      })
    })

  const node: TestNode = {
    data,
    domain: opts.domain,
    host: lan.address,
    ports,
    cli: (args) => runCli([...args, '--data', data]),
    async addAccount(local) {
      const address = `${local}@${opts.domain}`
      const r = await runCli(['account', 'add', address, '--data', data])
      if (r.code !== 0) throw new Error(`account add failed: ${r.stderr}`)
      const m = /password: (\S+)/.exec(r.stdout)
      if (!m?.[1]) throw new Error(`no password in: ${r.stdout}`)
      return { address, password: m[1] }
    },
    async dclogin(address) {
      const r = await runCli(['account', 'qr', address, '--uri', '--data', data])
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
  return node
}
