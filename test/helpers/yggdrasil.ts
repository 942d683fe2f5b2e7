// Two boxes on a Yggdrasil mesh of their own: two network namespaces joined
// by one veth cable (a /30 that exists only inside them), each running
// Debian's real yggdrasil daemon with its TUN interface, peered with each
// other only: no multicast discovery, no public peers, no admin socket.
// Each box gets its 200::/7 address from its own key, and the other box
// reaches it over the mesh, not over the cable's IPv4. Needs root.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ip, run } from './netns.js'
import { waitFor } from './wait.js'

export interface YggBox {
  /** The namespace the box's programs run in. */
  ns: string
  /** Its Yggdrasil address (200::/8). */
  address: string
  /** Runs a program inside the namespace and waits for it. */
  exec(file: string, args: string[], timeout?: number): ReturnType<typeof run>
}

export interface YggMesh {
  a: YggBox
  b: YggBox
  /** Stops both daemons and deletes the namespaces. */
  destroy(): Promise<void>
}

/** True when this machine can run the mesh: the yggdrasil binary, /dev/net/tun and root. */
export async function canRunYggdrasil(): Promise<string | false> {
  const v = await run('yggdrasil', ['-version'])
  if (v.code !== 0) return 'yggdrasil is not installed (apt-get install yggdrasil)'
  if (process.getuid?.() !== 0) return 'making network namespaces needs root'
  return false
}

export async function makeYggMesh(prefix = 'ygg'): Promise<YggMesh> {
  const tag = randomBytes(3).toString('hex')
  const names = [`${prefix}a-${tag}`, `${prefix}b-${tag}`] as const
  const dir = mkdtempSync(join(tmpdir(), 'op-ygg-'))
  const daemons: ChildProcess[] = []
  const logs = ['', '']
  const cleanup = async () => {
    for (const d of daemons) if (d.exitCode === null && d.signalCode === null) d.kill('SIGTERM')
    await Promise.all(daemons.map((d) => (d.exitCode !== null || d.signalCode !== null ? undefined : new Promise((r) => d.once('exit', r)))))
    for (const ns of names) await run('ip', ['netns', 'del', ns])
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const ns of names) {
      await ip('netns', 'add', ns)
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    // The cable: made in the first namespace, its far end moved to the second.
    await ip('-n', names[0], 'link', 'add', 'cable0', 'type', 'veth', 'peer', 'name', 'cable1')
    await ip('-n', names[0], 'link', 'set', 'cable1', 'netns', names[1])
    await ip('-n', names[0], 'addr', 'add', '10.78.0.1/30', 'dev', 'cable0')
    await ip('-n', names[1], 'addr', 'add', '10.78.0.2/30', 'dev', 'cable1')
    await ip('-n', names[0], 'link', 'set', 'cable0', 'up')
    await ip('-n', names[1], 'link', 'set', 'cable1', 'up')

    const addresses: string[] = []
    for (const [i, ns] of names.entries()) {
      const gen = await run('yggdrasil', ['-genconf', '-json'])
      if (gen.code !== 0) throw new Error(`yggdrasil -genconf failed: ${gen.stderr}`)
      const conf = JSON.parse(gen.stdout) as Record<string, unknown>
      Object.assign(conf, {
        // Box a listens on the cable; box b peers with it. Nothing else.
        Listen: i === 0 ? ['tcp://10.78.0.1:14001'] : [],
        Peers: i === 1 ? ['tcp://10.78.0.1:14001'] : [],
        MulticastInterfaces: [],
        AdminListen: 'none',
        IfName: 'ygg0',
        NodeInfoPrivacy: true,
      })
      const file = join(dir, `${ns}.json`)
      writeFileSync(file, JSON.stringify(conf), { mode: 0o600 })
      const addr = await run('yggdrasil', ['-useconffile', file, '-address'])
      if (addr.code !== 0) throw new Error(`yggdrasil -address failed: ${addr.stderr}`)
      addresses.push(addr.stdout.trim())
      const d = spawn('ip', ['netns', 'exec', ns, 'yggdrasil', '-useconffile', file, '-logto', 'stdout'], { stdio: ['ignore', 'pipe', 'pipe'] })
      d.stdout.on('data', (c: Buffer) => (logs[i] += c.toString()))
      d.stderr.on('data', (c: Buffer) => (logs[i] += c.toString()))
      daemons.push(d)
    }
    const boxes = names.map((ns, i): YggBox => ({ ns, address: addresses[i]!, exec: (file, args, timeout) => run('ip', ['netns', 'exec', ns, file, ...args], timeout) }))
    // Up when each box has its address on ygg0 and a TCP connect to the
    // other's address over the mesh is answered (refused is an answer).
    for (const [i, box] of boxes.entries()) {
      await waitFor(`${box.ns}'s Yggdrasil address on ygg0`, async () => (await run('ip', ['-n', box.ns, '-6', 'addr', 'show', 'dev', 'ygg0'])).stdout.includes(box.address), { timeoutMs: 30_000, explain: () => logs[i]! })
    }
    const probe = (from: YggBox, to: YggBox) =>
      from.exec(process.execPath, ['-e', `const s=require('net').connect({host:${JSON.stringify(to.address)},port:9,timeout:3000});s.on('connect',()=>process.exit(0));s.on('error',(e)=>process.exit(e.code==='ECONNREFUSED'?0:1));s.on('timeout',()=>process.exit(1))`])
    await waitFor('the two boxes to reach each other over Yggdrasil', async () => (await probe(boxes[0]!, boxes[1]!)).code === 0 && (await probe(boxes[1]!, boxes[0]!)).code === 0, { timeoutMs: 60_000, explain: () => logs.join('\n') })
    return { a: boxes[0]!, b: boxes[1]!, destroy: cleanup }
  } catch (err) {
    await cleanup()
    throw err
  }
}
