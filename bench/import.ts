// Import throughput: a bundle of local mail delivered into a running node's
// Dovecot, and whether import keeps its speed as the mailbox and the ledger
// grow.
//
// Node camp (initialised, never started: only its keys are used) seals
// bundles for node town (running, with Dovecot); the import runs in this
// process as `outpost import DIR` runs it (Exchange.importFrom on town's
// data dir, fsync included), timed from the first bundle read to the last
// ledger write. The baseline is Dovecot alone: the same number of messages
// handed to the same Dovecot over one LMTP session with no ledger, so the
// ratio says what the import adds on top of Dovecot's own storing.
//
// Figures:
// - import msg/s for BENCH_IMPORT_MESSAGES (default 10,000) messages in one
//   bundle, to 10 accounts, BENCH_IMPORT_RUNS (default 3) runs, each on a
//   fresh set of accounts;
// - growth: bundles of BENCH_IMPORT_STEP (default 5,000) messages, all to
//   one account, until it holds BENCH_IMPORT_GROW (default 50,000); msg/s of
//   each bundle against the mailbox size it started at, and Dovecot's own
//   rate over one LMTP session at that size.
//
// Run alone: `node --import tsx bench/import.ts` (after `node build/build.mjs`).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startNode, type TestNode } from '../test/helpers/node.js'
import { befriend } from '../test/helpers/stick.js'
import { seedMessage } from '../test/helpers/outbox-seed.js'
import { openNode } from '../server/context/context.js'
import { Exchange, exchangeServices } from '../server/exchange/exchange.js'
import { BUNDLE_LIFETIME_MS, HOP_LIMIT } from '../server/exchange/export.js'
import { bundleFileName, newBundleId, sealBundle } from '../server/bundle/format.js'
import { stickFolder } from '../server/bundle/stick-layout.js'
import { stableMessageId } from '../server/bundle/message-id.js'
import { loadIdentity } from '../server/identity/keys.js'
import { nodePaths } from '../server/base/paths.js'
import { LmtpSession } from '../server/delivery/lmtp.js'
import type { BsmtpMessage } from '../server/bundle/bsmtp.js'
import { deliver } from '../server/delivery/deliver.js'
import { acksOwed, seenMessages } from '../server/db/schema.js'

const out = (line = '') => process.stdout.write(line + '\n')
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000))

let serial = 0

/** Seals `n` messages from camp's users to `to(i)` into one bundle on a fresh stick folder; returns the stick. */
async function stickWith(camp: TestNode, n: number, to: (i: number) => string, dir: string): Promise<string> {
  const campNode = openNode(camp.data)
  try {
    const identity = loadIdentity(campNode.paths)
    const town = exchangeServices(campNode, { log: () => undefined }).peers.get('town')
    if (!town) throw new Error('camp does not know town')
    const messages: BsmtpMessage[] = []
    for (let k = 0; k < n; k++) {
      const i = serial++
      const data = seedMessage(i, 2300)
      const sender = `user${i % 500}@camp.test`
      messages.push({ id: stableMessageId(data, sender), sender, recipients: [to(k)], data })
    }
    const now = Date.now()
    const header = { id: newBundleId(), kind: 'mail' as const, origin: 'camp', destination: 'town', created: now, expires: now + BUNDLE_LIFETIME_MS, hops: 0, hopLimit: HOP_LIMIT }
    const bytes = await sealBundle({ header, payload: { messages }, signKey: identity.signPrivate, recipient: town.age })
    const stick = mkdtempSync(join(dir, 'stick-'))
    mkdirSync(stickFolder(stick, 'town'), { recursive: true })
    writeFileSync(join(stickFolder(stick, 'town'), bundleFileName(header)), bytes)
    return stick
  } finally {
    campNode.close()
  }
}

/** Imports the stick into town in this process, as `outpost import` does; returns ms and messages delivered. */
async function importStick(town: TestNode, stick: string): Promise<{ ms: number; delivered: number; cpuMs: number }> {
  const node = openNode(town.data)
  try {
    const x = new Exchange(node, exchangeServices(node, { log: () => undefined }))
    const t = performance.now()
    const cpu0 = process.cpuUsage()
    const results = await x.importFrom(stick)
    const ms = performance.now() - t
    const used = process.cpuUsage(cpu0)
    const cpuMs = (used.user + used.system) / 1000
    let delivered = 0
    for (const r of results) {
      if (r.outcome.kind !== 'imported') throw new Error(`import: ${JSON.stringify(r.outcome).slice(0, 300)}`)
      delivered += r.outcome.delivered
    }
    return { ms, delivered, cpuMs }
  } finally {
    node.close()
  }
}

/** Dovecot alone: `n` messages over one LMTP session, no ledger. */
async function dovecotAlone(town: TestNode, n: number, to: string): Promise<number> {
  const session = await LmtpSession.open({ socketPath: nodePaths(town.data).lmtpSocket, lhloName: 'town.test' })
  try {
    const t = performance.now()
    for (let k = 0; k < n; k++) {
      const [r] = await session.deliver({ sender: 'bench@camp.test', recipients: [to] }, seedMessage(1e9 + serial++, 2300))
      if (!r || r.code !== 250) throw new Error(`LMTP: ${JSON.stringify(r)}`)
    }
    return performance.now() - t
  } finally {
    await session.close()
  }
}

const maildirSize = (town: TestNode, local: string) => {
  const base = join(nodePaths(town.data).mail, 'town.test', local, 'Maildir')
  const count = (sub: string) => {
    try {
      return readdirSync(join(base, sub)).length
    } catch {
      return 0 // made by Dovecot at the first delivery
    }
  }
  return count('new') + count('cur')
}

/**
 * The way import delivered before one session per bundle: deliver() for
 * each message (its own LMTP connection, and four fsync'd commits: the
 * pending row, the delivered mark, the event, seen and ack).
 */
async function perMessage(town: TestNode, n: number, to: string): Promise<number> {
  const node = openNode(town.data)
  const events = exchangeServices(node, { log: () => undefined }).events
  try {
    const t = performance.now()
    for (let k = 0; k < n; k++) {
      const data = seedMessage(2e9 + serial++, 2300)
      const key = stableMessageId(data, 'bench@camp.test')
      const o = await deliver({ db: node.db, lmtp: { socketPath: node.paths.lmtpSocket, lhloName: 'town.test' }, sender: 'bench@camp.test', recipients: [to], message: data, mailDir: node.paths.mail, key })
      if (o.verdict !== 'delivered') throw new Error(o.text)
      events.record('message.delivered', { messageId: key, recipient: to, via: 'bench' })
      node.db.transaction((tx) => {
        tx.insert(seenMessages).values({ messageId: key, fromPeer: 'camp', seenAt: Date.now() }).run()
        tx.insert(acksOwed).values({ peer: 'camp', messageId: key, createdAt: Date.now() }).run()
      })
    }
    return performance.now() - t
  } finally {
    node.close()
  }
}

export async function benchImport(opts: { messages: number; runs: number; step: number; grow: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'op-bench-import-'))
  const nodes: TestNode[] = []
  try {
    const camp = await startNode({ domain: 'camp.test', name: 'camp', start: false })
    nodes.push(camp)
    const town = await startNode({ domain: 'town.test', name: 'town' })
    nodes.push(town)
    await befriend(camp, town)

    out(`  import of one bundle of ${opts.messages} messages (~2.3 KB each) to 10 accounts, ${opts.runs} runs; baselines: a session and four commits per message (import before), and Dovecot alone over one LMTP session`)
    const rates: number[] = []
    const floors: number[] = []
    const olds: number[] = []
    for (let run = 0; run < opts.runs; run++) {
      const locals = Array.from({ length: 10 }, (_, i) => `r${run}u${i}`)
      for (const l of locals) await town.addAccount(l)
      const stick = await stickWith(camp, opts.messages, (i) => `${locals[i % 10]}@town.test`, dir)
      const { ms, delivered, cpuMs } = await importStick(town, stick)
      if (delivered !== opts.messages) throw new Error(`delivered ${delivered} of ${opts.messages}`)
      rates.push(rate(opts.messages, ms))
      rmSync(stick, { recursive: true, force: true })
      const floorN = Math.min(opts.messages, 500)
      const floorMs = await dovecotAlone(town, floorN, `${locals[0]}@town.test`)
      floors.push(rate(floorN, floorMs))
      olds.push(rate(floorN, await perMessage(town, floorN, `${locals[1]}@town.test`)))
      out(`    run ${run + 1}: ${rate(opts.messages, ms)} msg/s (${(ms / 1000).toFixed(1)} s, outpost's own CPU ${(cpuMs / opts.messages).toFixed(2)} ms/msg); per message as before ${olds.at(-1)} msg/s (${floorN} msgs), ratio ${(rates.at(-1)! / olds.at(-1)!).toFixed(2)}; Dovecot alone ${floors.at(-1)} msg/s, ratio ${(rates.at(-1)! / floors.at(-1)!).toFixed(2)}`)
    }
    out(`    import ${Math.min(...rates)}–${Math.max(...rates)} msg/s (target ≥ 1000); per message as before ${Math.min(...olds)}–${Math.max(...olds)} msg/s; Dovecot alone ${Math.min(...floors)}–${Math.max(...floors)} msg/s`)

    if (opts.grow > 0) {
      out(`  growth: bundles of ${opts.step} messages to one account until it holds ${opts.grow}`)
      await town.addAccount('big')
      out('    | mailbox before | ledger rows before | import msg/s | outpost CPU ms/msg | Dovecot alone msg/s (500 msgs) |')
      out('    |---|---|---|---|---|')
      for (let held = 0; held < opts.grow; held += opts.step) {
        const before = maildirSize(town, 'big')
        const ledger = (() => {
          const n = openNode(town.data)
          try {
            return (n.db.$client.prepare('SELECT count(*) AS c FROM deliveries').get() as { c: number }).c
          } finally {
            n.close()
          }
        })()
        const stick = await stickWith(camp, opts.step, () => 'big@town.test', dir)
        const { ms, cpuMs } = await importStick(town, stick)
        rmSync(stick, { recursive: true, force: true })
        const floorMs = await dovecotAlone(town, 500, 'big@town.test')
        out(`    | ${before} | ${ledger} | ${rate(opts.step, ms)} | ${(cpuMs / opts.step).toFixed(2)} | ${rate(500, floorMs)} |`)
      }
    }
  } finally {
    await Promise.all(nodes.map((n) => n.destroy()))
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Outpost's own part as the ledger grows, without Dovecot: bundles of
 * `step` messages imported into a node whose LMTP socket is a fake that
 * answers 250 at once (test/helpers/fake-lmtp.ts), until the ledger
 * (deliveries, seen_messages, acks_owed, events) holds `grow` messages.
 * The wall time includes the fsync'd commits; CPU is this process's.
 */
export async function benchLedger(step: number, grow: number): Promise<void> {
  const { initNode } = await import('../server/node/init.js')
  const { exec } = await import('../server/base/exec.js')
  const { makeCard } = await import('../server/identity/card.js')
  const { FakeLmtp } = await import('../test/helpers/fake-lmtp.js')
  const { seedOutbox } = await import('../test/helpers/outbox-seed.js')
  const { dirname } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'op-bench-ledger-'))
  try {
    const campInit = await initNode({ data: join(dir, 'camp'), domain: 'camp.test', host: '127.0.0.1' }, exec)
    const townInit = await initNode({ data: join(dir, 'town'), domain: 'town.test', host: '127.0.0.1' }, exec)
    const camp = openNode(campInit.paths.data)
    const town = openNode(townInit.paths.data)
    const cx = new Exchange(camp, exchangeServices(camp, { log: () => undefined }))
    const tx = new Exchange(town, exchangeServices(town, { log: () => undefined }))
    cx.peers.add(makeCard({ config: townInit.config, identity: loadIdentity(townInit.paths) }))
    tx.peers.add(makeCard({ config: campInit.config, identity: loadIdentity(campInit.paths) }))
    mkdirSync(dirname(town.paths.lmtpSocket), { recursive: true })
    const lmtp = await new FakeLmtp(town.paths.lmtpSocket).listen()
    out(`  Outpost's own part of import as the ledger grows (Dovecot replaced by an LMTP fake that answers at once), bundles of ${step}`)
    out('    | ledger before | import msg/s | CPU ms/msg |')
    out('    |---|---|---|')
    for (let held = 0; held < grow; held += step) {
      seedOutbox(camp.db, { messages: step, peers: ['town'], spool: camp.paths.spool, offset: held, start: Date.now() - 1000 * step })
      const stick = mkdtempSync(join(dir, 'stick-'))
      await cx.exportTo(stick)
      // camp never hears the acks here: clear what it exported so the next round carries only new mail.
      camp.db.$client.prepare('DELETE FROM outbox').run()
      const t = performance.now()
      const cpu0 = process.cpuUsage()
      const results = await tx.importFrom(stick)
      const ms = performance.now() - t
      const used = process.cpuUsage(cpu0)
      if (results.some((r) => r.outcome.kind !== 'imported')) throw new Error(JSON.stringify(results.map((r) => r.outcome.kind)))
      rmSync(stick, { recursive: true, force: true })
      lmtp.received.length = 0
      lmtp.stored.length = 0
      out(`    | ${held} | ${rate(step, ms)} | ${((used.user + used.system) / 1000 / step).toFixed(3)} |`)
    }
    await lmtp.close()
    camp.close()
    town.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--ledger') {
  await benchLedger(Number(process.env.BENCH_IMPORT_STEP ?? 5_000), Number(process.env.BENCH_IMPORT_GROW ?? 50_000))
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchImport({
    messages: Number(process.env.BENCH_IMPORT_MESSAGES ?? 10_000),
    runs: Number(process.env.BENCH_IMPORT_RUNS ?? 3),
    step: Number(process.env.BENCH_IMPORT_STEP ?? 5_000),
    grow: Number(process.env.BENCH_IMPORT_GROW ?? 50_000),
  })
}
