// Two node directories, camp.test and town.test, that know each other's
// cards, each with its bundle exchange, and a fake Dovecot LMTP socket on
// town that stores what it is given: the set-up of the tests that carry
// bundles between two nodes without starting them.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { initNode } from '../../server/node/init.js'
import { openNode, type NodeContext } from '../../server/context/context.js'
import { exec } from '../../server/base/exec.js'
import { Exchange, exchangeServices } from '../../server/exchange/exchange.js'
import { EventLog, type EventBus } from '../../server/events/log.js'
import { loadIdentity } from '../../server/identity/keys.js'
import { makeCard } from '../../server/identity/card.js'
import { FakeLmtp } from './fake-lmtp.js'

type InitResult = Awaited<ReturnType<typeof initNode>>

export interface PeeredPair {
  /** The temporary folder holding both nodes; a test may put its stick or shared folder here. */
  dir: string
  camp: NodeContext
  town: NodeContext
  campInit: InitResult
  townInit: InitResult
  /** camp's and town's exchanges, recording into campLog and townLog. */
  cx: Exchange
  tx: Exchange
  campLog: EventLog
  townLog: EventLog
  /** What town's Dovecot would have stored. */
  lmtp: FakeLmtp
  /** Closes both nodes and the LMTP socket, and removes the folder. */
  close(): Promise<void>
}

/** camp and town, peered both ways; with a bus, both nodes' events are pushed on it too. */
export async function twoPeeredNodes(prefix: string, opts: { bus?: EventBus } = {}): Promise<PeeredPair> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const nodes: NodeContext[] = []
  let lmtp: FakeLmtp | undefined
  const close = async () => {
    await lmtp?.close()
    for (const n of nodes) n.close()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const campInit = await initNode({ data: join(dir, 'camp'), domain: 'camp.test', host: '127.0.0.1' }, exec)
    const townInit = await initNode({ data: join(dir, 'town'), domain: 'town.test', host: '127.0.0.1' }, exec)
    const camp = openNode(campInit.paths.data)
    nodes.push(camp)
    const town = openNode(townInit.paths.data)
    nodes.push(town)
    const campLog = new EventLog(camp.db, opts.bus)
    const townLog = new EventLog(town.db, opts.bus)
    const cx = new Exchange(camp, exchangeServices(camp, { events: campLog }))
    const tx = new Exchange(town, exchangeServices(town, { events: townLog }))
    cx.peers.add(makeCard({ config: townInit.config, identity: loadIdentity(townInit.paths) }))
    tx.peers.add(makeCard({ config: campInit.config, identity: loadIdentity(campInit.paths) }))
    mkdirSync(dirname(town.paths.lmtpSocket), { recursive: true })
    lmtp = await new FakeLmtp(town.paths.lmtpSocket).listen()
    return { dir, camp, town, campInit, townInit, cx, tx, campLog, townLog, lmtp, close }
  } catch (err) {
    await close()
    throw err
  }
}

export interface CampKnowingTown {
  /** The temporary folder holding both nodes. */
  dir: string
  camp: InitResult
  town: InitResult
  /** camp, open; town stays closed (only its card is used). */
  node: NodeContext
  /** camp's exchange, with town as a peer. */
  x: Exchange
  /** Closes camp and removes the folder. */
  close(): void
}

/** camp knowing town from its card, for the tests of what camp's exchange sends and when. */
export async function campKnowingTown(prefix: string): Promise<CampKnowingTown> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  try {
    const camp = await initNode({ data: join(dir, 'camp'), domain: 'camp.test', host: '127.0.0.1' }, exec)
    const town = await initNode({ data: join(dir, 'town'), domain: 'town.test', host: '127.0.0.1' }, exec)
    const node = openNode(camp.paths.data)
    const x = new Exchange(node, exchangeServices(node))
    x.peers.add(makeCard({ config: town.config, identity: loadIdentity(town.paths) }))
    return {
      dir,
      camp,
      town,
      node,
      x,
      close() {
        node.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}
