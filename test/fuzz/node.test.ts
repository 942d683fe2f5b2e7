// The fuzz tier: a running node (camp) is fed mutated bundles, hostile stick
// layouts, junk HTTP transport requests and broken SMTP sessions, with a
// fixed seed (OUTPOST_FUZZ_SEED overrides it) and a fixed number of cases,
// so a failure can be replayed. Throughout, the node must stay healthy, its
// memory bounded, every command answer in time, and the good mail sent in
// the same run must arrive exactly once.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { request } from 'node:https'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs'
import { execFileSync, spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { campAndTown, type CampAndTown } from '../helpers/stick.js'
import { smtpClient, messageIdCounts } from '../helpers/mail.js'
import { processTree, rssBytes } from '../helpers/procs.js'
import { seededRandom } from '../helpers/seeded-random.js'

const SEED = Number(process.env.OUTPOST_FUZZ_SEED ?? 20261207)
// The node process itself (not Dovecot or Haraka): idle it is under 100 MB;
// no input may push it far past that.
const NODE_RSS_LIMIT = 400 * 1024 * 1024


function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 20_000 }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject).on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
    req.end()
  })
}

function post(port: number, path: string, headers: Record<string, string>, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, rejectUnauthorized: false, timeout: 60_000 }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0))
    })
    // A node may cut a refused upload short: that is an answer too.
    req.on('error', () => resolve(-1)).on('timeout', () => req.destroy())
    req.end(body)
  })
}

describe(`fuzz: a node under hostile input stays up, bounded and correct (seed ${SEED})`, { timeout: 20 * 60_000 }, () => {
  const rand = seededRandom(SEED)
  const int = (n: number) => Math.floor(rand() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  let scene: CampAndTown
  let good: Buffer[] = []
  const goodIds: string[] = []
  const secret = join(mkdtempSync(join(tmpdir(), 'op-secret-')), 'secret.txt')
  let maxRss = 0

  const sampleRss = () => {
    const pid = scene.camp.pid()
    assert.ok(pid, 'camp runs')
    const rss = rssBytes([pid])
    maxRss = Math.max(maxRss, rss)
    assert.ok(rss < NODE_RSS_LIMIT, `camp's RSS ${Math.round(rss / 1048576)} MB stays under ${NODE_RSS_LIMIT / 1048576} MB`)
  }
  const healthy = async () => {
    assert.equal(await get(scene.camp.ports.web, '/api/health'), 200, 'camp answers /api/health')
    sampleRss()
  }
  const inbox = () => join(scene.stick, 'outpost', 'camp')
  const importCamp = async (what: string) => {
    const r = await scene.camp.cli(['import', scene.stick])
    // 0: imported (bad bundles quarantined); 1: a clear error; 75: try again.
    assert.ok([0, 1, 75].includes(r.code), `${what}: import answers with a known exit code, got ${r.code}: ${r.stderr.slice(-800)}`)
    assert.doesNotMatch(r.stderr, /^\s+at .+\(.+:\d+:\d+\)$/m, `${what}: no stack trace for bad input: ${r.stderr.slice(-800)}`)
    return r
  }

  before(async () => {
    writeFileSync(secret, 'root-only secret that must never be copied\n', { mode: 0o600 })
    scene = await campAndTown()
    // Good mail from town to camp: the bundles every mutation starts from.
    const carol = await scene.camp.addAccount('carol')
    const c = smtpClient(scene.town.ports.submission, scene.bob)
    try {
      for (let i = 0; i < 6; i++) {
        const id = `<good${i}.${SEED}@town.test>`
        goodIds.push(id)
        await c.sendMail({ from: scene.bob.address, to: carol.address, subject: `good ${i}`, text: `good message ${i}\n`, messageId: id })
      }
    } finally {
      c.close()
    }
    const exp = await scene.town.cli(['export', scene.stick])
    assert.equal(exp.code, 0, exp.stderr)
    good = readdirSync(inbox()).filter((n) => n.endsWith('.obundle')).sort().map((n) => readFileSync(join(inbox(), n)))
    assert.ok(good.length >= 1, 'town exported a bundle for camp')
    // Taken off the stick: they go back at the end, after all the junk.
    for (const n of readdirSync(inbox())) rmSync(join(inbox(), n))
    ;(scene as CampAndTown & { carol?: string }).carol = carol.address
  })

  after(async () => {
    await scene?.destroy()
    rmSync(join(secret, '..'), { recursive: true, force: true })
    console.log(`# fuzz seed ${SEED}: camp's peak RSS ${Math.round(maxRss / 1048576)} MB`)
  })

  it('mutated bundles (bit flips, cuts, splices, junk) are quarantined, never crash or hang the import', { timeout: 10 * 60_000 }, async () => {
    // Never the bundle itself: a mutation that happened to give back the
    // original would import the good mail here, before the tests below.
    const mutate = (b: Buffer): Buffer => {
      const out = mutation(b)
      if (out.equals(b)) out[0] = out[0]! ^ 0xff
      return out
    }
    const mutation = (b: Buffer): Buffer => {
      const m = Buffer.from(b)
      switch (int(6)) {
        case 0: // flip a few bits
          for (let i = 0, n = 1 + int(8); i < n; i++) m[int(m.length)]! ^= 1 << int(8)
          return m
        case 1: // cut it short, as a stick pulled mid-write would
          return m.subarray(0, int(m.length))
        case 2: // splice a chunk of one bundle into another place
          return Buffer.concat([m.subarray(0, int(m.length)), b.subarray(int(b.length)), m.subarray(int(m.length))])
        case 3: // random junk under a bundle's name
          return Buffer.from(Array.from({ length: 1 + int(4096) }, () => int(256)))
        case 4: // the right start, junk after
          return Buffer.concat([m.subarray(0, Math.min(m.length, 64 + int(256))), Buffer.from(Array.from({ length: int(2048) }, () => int(256)))])
        default: { // invert a run of bytes
          const from = int(m.length)
          for (let i = from, end = Math.min(m.length, from + 1 + int(64)); i < end; i++) m[i] = m[i]! ^ 0xff
          return m
        }
      }
    }
    mkdirSync(inbox(), { recursive: true })
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 10; i++) writeFileSync(join(inbox(), `town--camp--20261207T000000Z--fuzz${round}x${i}.obundle`), mutate(pick(good)))
      await importCamp(`round ${round} of mutated bundles`)
      await healthy()
    }
    const q = readdirSync(join(scene.camp.data, 'quarantine'))
    assert.ok(q.length > 0, 'bad bundles went to quarantine')
  })

  it('hostile stick layouts: FIFOs, links to devices and secrets, folders named like bundles, long names, deep trees', { timeout: 5 * 60_000 }, async () => {
    const root = join(scene.stick, 'outpost')
    rmSync(root, { recursive: true, force: true })
    mkdirSync(inbox(), { recursive: true })
    execFileSync('mkfifo', [join(inbox(), 'town--camp--20261207T000000Z--fifo.obundle')])
    symlinkSync('/dev/zero', join(inbox(), 'town--camp--20261207T000000Z--zero.obundle'))
    symlinkSync(secret, join(inbox(), 'town--camp--20261207T000000Z--secret.obundle'))
    mkdirSync(join(inbox(), 'town--camp--20261207T000000Z--dir.obundle'))
    writeFileSync(join(inbox(), `town--camp--20261207T000000Z--${'l'.repeat(200)}.obundle`), Buffer.from('junk'))
    let deep = join(root, 'deep')
    for (let i = 0; i < 40; i++) deep = join(deep, 'd')
    mkdirSync(deep, { recursive: true })
    writeFileSync(join(root, 'town'), 'a file where a peer folder should be')
    symlinkSync('/', join(root, 'loop'))
    // A good bundle beside them must still come in.
    writeFileSync(join(inbox(), `town--camp--20261207T000000Z--zzgood.obundle`), good[0]!)
    const r = await importCamp('a hostile stick')
    await healthy()
    // Exit 1: entries were skipped or quarantined, each with its reason.
    assert.equal(r.code, 1, r.stdout + r.stderr)
    for (const trap of ['fifo', 'zero', 'secret', 'dir']) assert.match(r.stdout, new RegExp(`--${trap}\\.obundle: SKIPPED`), `the ${trap} entry is skipped with a reason`)
    assert.match(r.stdout, /--zzgood\.obundle: [1-9]\d* delivered here/, `the good bundle beside the traps is imported: ${r.stdout}${r.stderr}`)
    // Nothing was read through the link to the secret: no copy anywhere in the data dir.
    const grep = spawnSync('grep', ['-rl', 'root-only secret', scene.camp.data], { encoding: 'utf8' })
    assert.equal(grep.stdout.trim(), '', 'the linked secret was not copied into the node')
  })

  it('junk HTTP transport requests get 4xx, in parallel and large, and memory stays bounded', { timeout: 5 * 60_000 }, async () => {
    const port = scene.camp.ports.web
    const names = ['town', 'camp', 'stranger', '', 'x'.repeat(300), 'town\r\nX: y']
    const requests = Array.from({ length: 40 }, () => {
      const size = pick([0, 10, 1000, 1 << 20, 32 << 20])
      const headers: Record<string, string> = {}
      if (rand() < 0.9) headers['x-outpost-node'] = pick(names).replace(/[\r\n]/g, '')
      if (rand() < 0.9) headers['x-outpost-date'] = pick([String(Date.now()), '0', '99999999999999999', 'yesterday'])
      if (rand() < 0.9) headers['x-outpost-signature'] = pick(['A'.repeat(86), 'short', '', 'B'.repeat(200)])
      return { path: pick(['/api/peer/bundles', '/api/peer/pickup']), headers, body: Buffer.alloc(size, int(256)) }
    })
    const codes = await Promise.all(requests.map((q) => post(port, q.path, q.headers, q.body)))
    sampleRss()
    for (const c of codes) assert.ok(c === -1 || (c >= 400 && c < 500) || c === 503, `a junk request is refused with 4xx (or 503 when busy), got ${c}`)
    await healthy()
  })

  it('broken SMTP sessions: junk commands, long lines, bare LF, no AUTH, binary', { timeout: 5 * 60_000 }, async () => {
    const port = scene.camp.ports.submission
    const junk = () =>
      pick([
        'EHLO x',
        'HELO',
        'MAIL FROM:<a@b>',
        'RCPT TO:<carol@camp.test>',
        'DATA',
        'AUTH PLAIN AGFsaWNlAHdyb25n',
        'STARTTLS',
        'BDAT 10',
        'X'.repeat(int(5000)),
        Buffer.from(Array.from({ length: int(300) }, () => int(256))).toString('latin1'),
        '\n\n\n',
        'RSET',
        'NOOP',
        'VRFY root',
      ])
    for (let s = 0; s < 30; s++) {
      await new Promise<void>((resolve) => {
        const sock = connect({ host: '127.0.0.1', port })
        sock.on('error', () => resolve())
        sock.on('close', () => resolve())
        sock.setTimeout(15_000, () => sock.destroy())
        sock.once('data', () => {
          const lines = Array.from({ length: 1 + int(12) }, junk)
          sock.write(lines.join(rand() < 0.5 ? '\r\n' : '\n') + '\r\nQUIT\r\n', 'latin1')
          sock.end()
        })
      })
    }
    await healthy()
  })

  it('after all of it, the good mail arrives exactly once, also when its bundles come twice', { timeout: 5 * 60_000 }, async () => {
    const root = join(scene.stick, 'outpost')
    rmSync(root, { recursive: true, force: true })
    mkdirSync(inbox(), { recursive: true })
    good.forEach((b, i) => writeFileSync(join(inbox(), `town--camp--20261207T000000Z--again${i}.obundle`), b))
    good.forEach((b, i) => writeFileSync(join(inbox(), `town--camp--20261207T000000Z--twice${i}.obundle`), b))
    const r = await importCamp('the good bundles')
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const counts = messageIdCounts(scene.camp.data, (scene as CampAndTown & { carol?: string }).carol!)
    for (const id of goodIds) assert.equal(counts.get(id), 1, `${id} delivered exactly once`)
    await healthy()
    assert.ok(processTree(scene.camp.pid()!).length >= 3, 'node, Haraka and Dovecot still run')
    assert.ok(existsSync(join(scene.camp.data, 'outpost.db')))
  })
})
