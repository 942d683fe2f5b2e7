// A stranger on the LAN announces itself by mDNS as camp's peer town, with
// town's name and signing-key fingerprint (both of which the real town
// broadcasts), and serves HTTPS with a key of its own. camp's HTTP transport
// follows the announcement, but finds another TLS key than town's card
// pins, and sends nothing: not a bundle, not even the signed request
// headers. When the real town comes onto the LAN the mail goes to it.
//
// Everything networked happens inside a network namespace of the test's own
// (test/helpers/netns.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeLan, lanNode, REPO, type Lan } from '../../../helpers/netns.js'
import { messageIdCounts } from '../../../helpers/mail.js'
import { befriend } from '../../../helpers/stick.js'
import type { TestNode } from '../../../helpers/node.js'
import { nodePaths } from '../../../../server/base/paths.js'
import { loadIdentity } from '../../../../server/identity/keys.js'
import { signFingerprint } from '../../../../server/identity/card.js'
import { waitFor } from '../../../helpers/wait.js'

const isRoot = process.getuid?.() === 0
// Where the cards say the nodes are. Nothing answers there.
const WRONG_HOST = '10.77.0.99'


/** The stranger: an HTTPS server with its own key that writes down every TLS session and request, and an mDNS announcement as `name`. */
function stranger(lan: Lan, opts: { name: string; fingerprint: string; port: number; key: string; cert: string }): { proc: ChildProcess; output: () => string; quiet: () => Promise<void> } {
  const mdns = new URL('../../../../server/transports/discovery/mdns.ts', import.meta.url).href
  const script = `
import { startDiscovery } from ${JSON.stringify(mdns)}
import { createServer } from 'node:https'
import { readFileSync } from 'node:fs'
const out = (line) => process.stdout.write(line + '\\n')
const server = createServer({ key: readFileSync(${JSON.stringify(opts.key)}), cert: readFileSync(${JSON.stringify(opts.cert)}) }, (req, res) => {
  out('request ' + req.method + ' ' + req.url)
  req.resume()
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end('{}')
})
server.on('secureConnection', () => out('tls'))
await new Promise((r) => server.listen(${opts.port}, ${JSON.stringify(lan.address)}, r))
let d = startDiscovery({ name: ${JSON.stringify(opts.name)}, signFingerprint: ${JSON.stringify(opts.fingerprint)}, port: ${opts.port}, interfaceAddress: ${JSON.stringify(lan.address)}, queryEveryMs: 1000, onPeer: () => {}, log: () => {} })
out('announcing')
process.stdin.on('data', async () => { if (d) { await d.stop(); d = undefined; out('quiet') } })
process.stdin.on('end', () => { server.close(); process.exit(0) })
`
  const proc = spawn('ip', ['netns', 'exec', lan.ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  return {
    proc,
    output: () => out,
    quiet: async () => {
      proc.stdin!.write('quiet\n')
      await waitFor('the stranger to stop announcing', () => out.includes('quiet'), 10_000)
    },
  }
}

test("a stranger announcing a peer's name and fingerprint on the LAN gets no bundle; the real peer does", { skip: isRoot ? false : 'needs root to make a network namespace', timeout: 300_000 }, async () => {
  const lan = await makeLan('op-mdstr')
  const nodes: TestNode[] = []
  const certDir = mkdtempSync(join(tmpdir(), 'op-stranger-'))
  let rogue: ReturnType<typeof stranger> | undefined
  try {
    const camp = await lanNode(lan, { name: 'camp', domain: 'camp.test', host: WRONG_HOST })
    nodes.push(camp)
    const town = await lanNode(lan, { name: 'town', domain: 'town.test', host: WRONG_HOST })
    nodes.push(town)
    await befriend(camp, town)
    assert.equal((await camp.cli(['transport', 'add', 'town', 'http'])).code, 0)
    const alice = await camp.addAccount('alice')
    const bob = await town.addAccount('bob')

    // The stranger's own key and certificate, for the same names a box uses.
    const key = join(certDir, 'key.pem')
    const cert = join(certDir, 'cert.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=town.test', '-keyout', key, '-out', cert], { stdio: 'ignore' })
    const [port] = (await lan.freePorts(1)) as [number]
    await camp.restart()
    rogue = stranger(lan, { name: 'town', fingerprint: signFingerprint(loadIdentity(nodePaths(town.data)).signPublicB64), port, key, cert })
    await waitFor('camp to take the stranger for town', () => camp.output().includes(`mdns: peer town seen at ${lan.address}:${port}`), 15_000)

    // alice writes to bob: camp's transport runs at once, to where mDNS said town is.
    const id = '<stranger-1@camp.test>'
    const send = await lan.exec(process.execPath, ['--input-type=module', '-e', `
import nodemailer from 'nodemailer'
const t = nodemailer.createTransport({ host: ${JSON.stringify(lan.address)}, port: ${camp.ports.submission}, secure: false, requireTLS: true, tls: { rejectUnauthorized: false },
  auth: { user: ${JSON.stringify(alice.address)}, pass: ${JSON.stringify(alice.password)} } })
await t.sendMail({ from: ${JSON.stringify(alice.address)}, to: ${JSON.stringify(bob.address)}, subject: 'for town only', text: 'not for strangers\\n', messageId: ${JSON.stringify(id)} })
t.close()
`])
    assert.equal(send.code, 0, send.stderr)
    // camp's transport run for the mail ends: sent somewhere, or failed.
    await waitFor("camp's transport run for the mail to end", () => / transport 1 \(http → town\)(: sent [1-9]| failed)/.test(camp.output()), 30_000)
    assert.doesNotMatch(rogue.output(), /^request /m, `the stranger got a request:\n${rogue.output()}`)
    assert.match(camp.output(), /answered with TLS key SHA256:\S+, not SHA256:\S+ that the peer's card pins; nothing was sent/)

    // The real town comes onto the LAN (the stranger stops announcing, its server stays up).
    await rogue.quiet()
    await town.restart()
    await waitFor(`${id} in bob's Maildir`, () => messageIdCounts(town.data, bob.address).get(id) === 1, { timeoutMs: 30_000, everyMs: 100 })
    // By now anything sent to the stranger would have arrived there.
    assert.doesNotMatch(rogue.output(), /^request /m, `the stranger got a request:\n${rogue.output()}`)
  } finally {
    rogue?.proc.stdin!.end()
    if (rogue && rogue.proc.exitCode === null) await new Promise((r) => rogue!.proc.once('exit', r))
    await Promise.all(nodes.map((n) => n.destroy()))
    await lan.destroy()
    rmSync(certDir, { recursive: true, force: true })
  }
})
