// Two Outpost boxes find each other by real multicast DNS. So as never to
// announce anything on this machine's own networks, the test makes a network
// namespace of its own, whose only interface is its own loopback (with
// multicast switched on), and runs both discovery instances inside it.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { signFingerprint } from '../../../../server/identity/card.js'

const NS = `op-mdns-${randomBytes(4).toString('hex')}`
const isRoot = process.getuid?.() === 0

// The child resolves `--import tsx` from here, wherever the runner was started.
const REPO = fileURLToPath(new URL('../../../..', import.meta.url))

function run(file: string, args: string[], timeout = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(file, args, { encoding: 'utf8', timeout, cwd: REPO }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      done({ code, stdout, stderr })
    })
  })
}

async function ip(...args: string[]): Promise<void> {
  const r = await run('ip', args)
  assert.equal(r.code, 0, `ip ${args.join(' ')} failed: ${r.stderr}`)
}

before(async () => {
  if (!isRoot) return
  await ip('netns', 'add', NS)
  await ip('-n', NS, 'link', 'set', 'lo', 'up')
  // lo does not do multicast by default; with it on and the multicast range
  // routed to it, packets to 224.0.0.251 loop back to every member socket.
  await ip('-n', NS, 'link', 'set', 'lo', 'multicast', 'on')
  await ip('-n', NS, 'route', 'add', '224.0.0.0/4', 'dev', 'lo')
})

after(async () => {
  if (isRoot) await run('ip', ['netns', 'del', NS])
})

/**
 * Runs inside the namespace: two boxes, "camp" bound to the loopback
 * interface explicitly and "town" on all interfaces (the default), on a
 * LAN that also carries junk and an Outpost-looking box whose fingerprint
 * is malformed.
 * Prints what each box saw, then stops both and lets the process end on its
 * own, which it only does if stop() closed every socket and timer.
 */
function script(fps: { camp: string; town: string }): string {
  const mdns = new URL('../../../../server/transports/discovery/mdns.ts', import.meta.url).href
  return `
import { startDiscovery } from ${JSON.stringify(mdns)}
import { createSocket } from 'node:dgram'
const seen = { camp: [], town: [], rogue: [] }
const logs = []
const box = (name, fp, port, interfaceAddress) => startDiscovery({
  name, signFingerprint: fp, port, interfaceAddress, queryEveryMs: 1000,
  onPeer: (s) => seen[name].push(s),
  log: (line) => logs.push(name + ': ' + line),
})
const camp = box('camp', ${JSON.stringify(fps.camp)}, 8443, '127.0.0.1')
// town starts later: camp finds it by its announcement, town finds camp by asking.
await new Promise((r) => setTimeout(r, 300))
const town = box('town', ${JSON.stringify(fps.town)}, 9443)
// An Outpost-looking box whose fingerprint is malformed: the others must pass it over.
const rogue = box('rogue', 'SHA256:short', 7000)
// Junk on the mDNS port, as a broken device on a LAN might send.
const junk = createSocket({ type: 'udp4', reuseAddr: true })
junk.send(Buffer.from('not a dns packet at all'), 5353, '224.0.0.251', () => junk.close())
// A listener on the LAN counts each box's answers (responses naming it).
const answers = { camp: 0, town: 0 }
const ear = createSocket({ type: 'udp4', reuseAddr: true })
ear.on('message', (m) => {
  if (m.length < 12 || !(m[2] & 0x80)) return
  for (const name of ['camp', 'town']) if (m.includes(Buffer.from('\\x04' + name, 'latin1'))) answers[name]++
})
await new Promise((r) => ear.bind(5353, r))
ear.addMembership('224.0.0.251', '127.0.0.1')
const deadline = Date.now() + 8000
while (Date.now() < deadline && !(seen.camp.length && seen.town.length)) await new Promise((r) => setTimeout(r, 100))
// Two more answers from each box after both have been seen: the first of
// them has surely been handled by the other box when the second comes, so
// anything told twice would be in "seen" by then.
const after = { ...answers }
const more = Date.now() + 15000
while (!(answers.camp >= after.camp + 2 && answers.town >= after.town + 2)) {
  if (Date.now() > more) throw new Error('no further answers from the boxes: ' + JSON.stringify({ after, answers }))
  await new Promise((r) => setTimeout(r, 100))
}
ear.close()
const t0 = Date.now()
await Promise.all([camp.stop(), town.stop(), rogue.stop()])
// A second stop is harmless.
await camp.stop()
process.stdout.write(JSON.stringify({ seen, logs, stopMs: Date.now() - t0 }))
`
}

test('two boxes on one LAN see each other (name, fingerprint, port), never themselves, and stop cleanly', { skip: isRoot ? false : 'needs root to make a network namespace' }, async () => {
  const fps = { camp: signFingerprint(randomBytes(32).toString('base64url')), town: signFingerprint(randomBytes(32).toString('base64url')) }
  const started = Date.now()
  const r = await run('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script(fps)])
  assert.equal(r.code, 0, `the discovery script failed or did not end by itself (a socket or timer left open?): ${r.stderr}`)
  const out = JSON.parse(r.stdout) as { seen: Record<'camp' | 'town', { name: string; signFingerprint: string; addresses: string[]; port: number }[]>; logs: string[]; stopMs: number }

  assert.deepEqual(out.seen.camp, [{ name: 'town', signFingerprint: fps.town, addresses: ['127.0.0.1'], port: 9443 }], `camp saw: ${JSON.stringify(out.seen.camp)}`)
  assert.deepEqual(out.seen.town, [{ name: 'camp', signFingerprint: fps.camp, addresses: ['127.0.0.1'], port: 8443 }], `town saw: ${JSON.stringify(out.seen.town)}`)
  // The junk packet was noticed and logged, not thrown; nothing else went wrong.
  assert.ok(out.logs.some((l) => /^camp: mdns: ignored a packet/.test(l)), `camp did not log the junk packet: ${out.logs.join('\n')}`)
  assert.ok(out.logs.every((l) => /ignored a packet/.test(l)), `unexpected log lines: ${out.logs.join('\n')}`)
  assert.ok(out.stopMs < 2000, `stop() took ${out.stopMs} ms`)
  assert.ok(Date.now() - started < 25_000)
})
