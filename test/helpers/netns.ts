// A LAN of the test's own: a network namespace with one LAN interface, on
// which Outpost nodes run and announce themselves by mDNS. Nothing is ever
// sent on this machine's own networks, and every address used lives inside
// the namespace. Needs root (`ip netns add`).
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { startNode, type CliResult, type TestNode } from './node.js'
import { freshPort } from './ports.js'

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
  /**
   * `count` TCP ports, chosen at random and checked free on the LAN address,
   * never one this LAN handed out before (several nodes share the address).
   */
  freePorts(count: number): Promise<number[]>
  /** Deletes the namespace (its interfaces go with it). Stop what runs inside first. */
  destroy(): Promise<void>
}

/** Runs `ip` with these arguments; throws with its own words when it fails. */
export async function ip(...args: string[]): Promise<void> {
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
  const handedOut = new Set<number>()
  return {
    ns,
    address,
    exec,
    async freePorts(count) {
      // From the tests' range, below the kernel's ephemeral ports (ports.ts says why).
      const want = Array.from({ length: count }, () => freshPort(handedOut))
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
  const [submission, smtps, imap, imaps, web] = (await lan.freePorts(5)) as [number, number, number, number, number]
  return startNode({ ...opts, listen: lan.address, ports: { submission, smtps, imap, imaps, web }, netns: lan.ns, start: false })
}
