// What an LMTP delivery costs after a quiet spell: Dovecot's LMTP process
// ends with its session (server/dovecot/config.ts, service lmtp), so the
// first delivery after the node's kept session has closed waits for Dovecot
// to start one. One message at a time over a new LMTP session, BENCH_LMTP_GAP_MS
// (default 1,500 ms: longer than the node keeps a session open) apart, timed
// from connect to the 250 after DATA; 22 samples after 3 warm-ups, p50, min
// and max.
//
// Run alone: `node --import tsx bench/lmtp-start.ts` (after `node build/build.mjs`).
import { startNode } from '../test/helpers/node.js'
import { nodePaths } from '../server/base/paths.js'
import { LmtpSession } from '../server/delivery/lmtp.js'

const gap = Number(process.env.BENCH_LMTP_GAP_MS ?? 1500)
const n = await startNode({ domain: 'probe.test' })
await n.addAccount('bob')
const target = { socketPath: nodePaths(n.data).lmtpSocket, lhloName: 'probe' }

/** One message over a session of its own, from connect to the 250 after DATA, in ms. */
async function one(i: number): Promise<number> {
  const t = performance.now()
  const session = await LmtpSession.open(target)
  try {
    const [r] = await session.deliver({ sender: 'a@probe.test', recipients: ['bob@probe.test'] }, Buffer.from(`Message-ID: <p${i}@probe.test>\r\nFrom: a@probe.test\r\nSubject: p\r\n\r\nhello ${i}\r\n`))
    if (r?.code !== 250) throw new Error(`message ${i} was not stored: ${JSON.stringify(r)}`)
    return performance.now() - t
  } finally {
    await session.close()
  }
}

const xs: number[] = []
for (let i = 0; i < 25; i++) {
  await new Promise((r) => setTimeout(r, gap))
  const d = await one(i)
  if (i >= 3) xs.push(d)
}
xs.sort((a, b) => a - b)
console.log(`gap ${gap} ms: p50 ${xs[Math.floor(xs.length / 2)]!.toFixed(1)} ms, min ${xs[0]!.toFixed(1)}, max ${xs.at(-1)!.toFixed(1)}`)
await n.destroy()
