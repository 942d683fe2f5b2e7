// What an LMTP delivery costs after a quiet spell: Dovecot's LMTP process
// ends with its session (server/dovecot/config.ts, service lmtp), so the
// first delivery after the node's kept session has closed waits for Dovecot
// to start one. One message at a time over a new LMTP session, BENCH_LMTP_GAP_MS
// (default 1,500 ms: longer than the node keeps a session open) apart, timed
// from connect to the 250 after DATA; 22 samples after 3 warm-ups, p50, min
// and max.
//
// Run alone: `node --import tsx bench/lmtp-start.ts` (after `node build/build.mjs`).
import { connect } from 'node:net'
import { startNode } from '../test/helpers/node.js'
import { nodePaths } from '../server/base/paths.js'
const gap = Number(process.env.BENCH_LMTP_GAP_MS ?? 1500)
const n = await startNode({ domain: 'probe.test' })
await n.addAccount('bob')
const sock = nodePaths(n.data).lmtpSocket
async function one(i: number): Promise<number> {
  const s = connect(sock)
  let buf = ''
  const waitFor = (re: RegExp) => new Promise<void>((res) => { const f = () => { if (re.test(buf)) { s.off('data', g); res() } }; const g = (d: Buffer) => { buf += d; f() }; s.on('data', g); f() })
  const t = performance.now()
  await waitFor(/^220 /m); buf = ''
  s.write('LHLO probe\r\n'); await waitFor(/^250 /m); buf = ''
  s.write('MAIL FROM:<a@probe.test>\r\n'); await waitFor(/^250 /m); buf = ''
  s.write('RCPT TO:<bob@probe.test>\r\n'); await waitFor(/^250 /m); buf = ''
  s.write('DATA\r\n'); await waitFor(/^354 /m); buf = ''
  s.write(`Message-ID: <p${i}@probe.test>\r\nFrom: a@probe.test\r\nSubject: p\r\n\r\nhello ${i}\r\n.\r\n`); await waitFor(/^250 /m)
  const dt = performance.now() - t
  s.end('QUIT\r\n')
  return dt
}
const xs: number[] = []
for (let i = 0; i < 25; i++) { await new Promise((r) => setTimeout(r, gap)); const d = await one(i); if (i >= 3) xs.push(d) }
xs.sort((a, b) => a - b)
console.log(`gap ${gap} ms: p50 ${xs[Math.floor(xs.length / 2)]!.toFixed(1)} ms, min ${xs[0]!.toFixed(1)}, max ${xs.at(-1)!.toFixed(1)}`)
await n.destroy()
