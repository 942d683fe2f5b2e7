// Transport part of the bench, over Yggdrasil: two boxes that share no LAN,
// only a mesh of two real yggdrasil daemons in network namespaces of their
// own (test/helpers/yggdrasil.ts), each box listening on `::` so that its
// card carries its Yggdrasil address. A real Delta Chat client on each box,
// inside that box's namespace; send → IncomingMsg across the mesh, against
// the same measure across two nodes on the plain LAN (loopback, part e).
import { join } from 'node:path'
import { OUTPOST_BIN, startNode, type TestNode } from '../test/helpers/node.js'
import { canRunYggdrasil, makeYggMesh, type YggBox } from '../test/helpers/yggdrasil.js'
import { nodePaths } from '../server/base/paths.js'
import { chatLatency, chatPair } from './deltachat-latency.js'
import { ms, ratio, summarize, type Summary } from './percentiles.js'

const LIMITS = { OUTPOST_LIMITS_SEND_PER_MINUTE: '1000000', OUTPOST_LIMITS_SEND_BURST: '1000000' }

async function cardIn(box: YggBox, node: TestNode): Promise<string> {
  const r = await box.exec(process.execPath, [OUTPOST_BIN, 'card', '--text', '--data', node.data])
  if (r.code !== 0) throw new Error(`card in ${box.ns}: ${r.stderr}`)
  return r.stdout.trim()
}

export async function benchYggdrasil(out: (line?: string) => void, lan: Summary | undefined, messages: number, cleanups: Array<() => Promise<void>>): Promise<void> {
  const cannot = await canRunYggdrasil()
  if (cannot) {
    out(`  over a Yggdrasil mesh: n/a (${cannot})`)
    return
  }
  const mesh = await makeYggMesh('bench')
  cleanups.push(() => mesh.destroy())
  const camp = await startNode({ domain: 'camp.test', name: 'camp', listen: '::', host: '127.0.0.1', netns: mesh.a.ns, start: false, env: LIMITS })
  cleanups.push(() => camp.destroy())
  const hill = await startNode({ domain: 'hill.test', name: 'hill', listen: '::', host: '127.0.0.1', netns: mesh.b.ns, start: false, env: LIMITS })
  cleanups.push(() => hill.destroy())
  // Each card is made inside its box's namespace, where its Yggdrasil address is.
  for (const [box, node, other] of [[mesh.a, camp, hill], [mesh.b, hill, camp]] as const) {
    const add = await other.cli(['peer', 'add', await cardIn(box, node)])
    if (add.code !== 0) throw new Error(`peer add: ${add.stderr}`)
  }
  for (const [node, peer] of [[camp, 'hill'], [hill, 'camp']] as const) {
    const t = await node.cli(['transport', 'add', peer, 'http'])
    if (t.code !== 0) throw new Error(`transport add: ${t.stderr}`)
  }
  await camp.restart()
  await hill.restart()
  const alice = await camp.addAccount('alice')
  const bob = await hill.addAccount('bob')
  const pair = await chatPair('ygg', await camp.dclogin(alice.address), await hill.dclogin(bob.address), { senderNetns: mesh.a.ns, recipientNetns: mesh.b.ns })
  cleanups.push(() => pair.close())
  const samples = await chatLatency(pair, join(nodePaths(hill.data).mail, 'hill.test', 'bob', 'Maildir', 'new'), messages)
  await pair.close()
  const cross = summarize(samples.map((s) => s.incomingMs))
  const stored = summarize(samples.map((s) => s.storedMs).filter((v): v is number => v !== undefined))
  out(`  Delta Chat send → IncomingMsg across two boxes joined only by a Yggdrasil mesh (${samples.length} messages)`)
  out(`    p50 ${ms(cross.p50)}, p99 ${ms(cross.p99)}; in hill's Maildir after p50 ${ms(stored.p50)}`)
  if (lan) out(`    against two nodes on the plain LAN (above): p50 ${ms(lan.p50)}, p99 ${ms(lan.p99)}; ratio p50 ${ratio(cross.p50, lan.p50)}, p99 ${ratio(cross.p99, lan.p99)}`)
}
