// A classic peer, end to end with real parts: Debian's Exim (unpacked by
// test/interop/fetch-exim.sh, run on its own config in a temp dir) with its
// own real NNCP node, set up the classic way (a pipe transport with
// use_bsmtp into `nncp-exec outpost rsmtp`, and NNCP's exec handler rsmtp
// running `exim -bS`), beside an Outpost node with its own NNCP node. The
// packets cross by nncp-xfer through a folder, as on a stick.
//
// alice uses Delta Chat on the Outpost node; bob has a Maildir on the Exim
// node, read here as a plain mail client would. Mail crosses both ways once;
// the same packets fed again add nothing; a batch from an NNCP node that is
// no classic peer, and a message whose sender is outside the peer's
// domains, are kept in quarantine with their reasons.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, OUTPOST_BIN, type TestNode } from '../../helpers/node.js'
import { Phone } from '../../helpers/deltachat.js'
import { messageIdCounts } from '../../helpers/mail.js'
import { waitFor } from '../../helpers/wait.js'
import { mustRun as ok, newNncpKeys as newKeys, nncpPublic as publicPart, runTool as run, type NncpKeys } from '../../helpers/nncp.js'
import { listQuarantine } from '../../../server/base/quarantine.js'

const EXIM_ROOT = process.env.OUTPOST_EXIM_ROOT ?? join(process.env.OUTPOST_TEST_CACHE ?? '/var/cache/outpost-test', 'exim')
const EXIM = join(EXIM_ROOT, 'root/usr/sbin/exim4')
/** Exim looks up its compiled-in user at start; a uid for it where the system has none. */
const EXIM_UID = 64_990
const WAIT_MS = 90_000

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (Exim delivers as its own user; the test supplies that user in a mount namespace)'
  if (!existsSync(EXIM)) return `no Exim at ${EXIM}: run test/interop/fetch-exim.sh`
  if (!existsSync('/usr/bin/nncp-exec')) return 'needs Debian\'s nncp package'
  return false
}

/** One NNCP node: its keys, a private spool and log, and its neighbours with the exec handlers each may run here. */
function nncpConfig(dir: string, self: NncpKeys, neigh: Record<string, { keys: NncpKeys; exec?: Record<string, string[]> }>, umask?: string): string {
  mkdirSync(join(dir, 'spool'), { recursive: true })
  const cfg = {
    spool: join(dir, 'spool'),
    log: join(dir, 'log'),
    noprogress: true,
    ...(umask ? { umask } : {}),
    self,
    neigh: {
      self: publicPart(self),
      ...Object.fromEntries(Object.entries(neigh).map(([name, n]) => [name, { ...publicPart(n.keys), ...(n.exec ? { exec: n.exec } : {}) }])),
    },
  }
  const file = join(dir, 'nncp.hjson')
  // HJSON is a superset of JSON.
  writeFileSync(file, JSON.stringify(cfg, null, 2), { mode: 0o644 })
  return file
}

/** The Exim node's config, the classic set-up of docs/interop/exim.md with paths in the temp dir. */
function eximConfig(o: { dir: string; nncpCfg: string; domain?: string; fsplScript?: string }): string {
  const domain = o.domain ?? 'oldtown.test'
  // With Filespooler as the carrier, only the transport's command changes.
  const command = o.fsplScript ?? `/usr/bin/nncp-exec -cfg ${o.nncpCfg} -noprogress -quiet $host rsmtp`
  return `# ${domain}: an Exim node that exchanges mail with an Outpost node over ${o.fsplScript ? 'Filespooler' : 'NNCP'}.
primary_hostname = ${domain}
qualify_domain = ${domain}
domainlist local_domains = ${domain}
spool_directory = ${o.dir}/spool
log_file_path = ${o.dir}/log/%slog
exim_path = ${EXIM}
keep_environment =
trusted_users = root
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  accept domains = +local_domains
  deny message = relay not permitted

begin routers
outpost:
  driver = manualroute
  domains = camp.test
  transport = nncp_bsmtp
  route_list = * outpost
local_user:
  driver = accept
  domains = +local_domains
  local_parts = bob : carol
  transport = local_maildir

begin transports
nncp_bsmtp:
  driver = pipe
  user = Debian-exim
  batch_max = 100
  use_bsmtp
  use_crlf
  temp_errors = *
  command = ${command}
local_maildir:
  driver = appendfile
  directory = ${o.dir}/mail/\${local_part_data}/Maildir
  maildir_format
  create_directory
  user = Debian-exim
  delivery_date_add
  envelope_to_add
  return_path_add
`
}

/**
 * Runs the unpacked Exim. Where the system has no Debian-exim user (Exim and
 * Postfix cannot both be installed), the wrapper shows Exim a passwd and
 * group file that have one, in a private mount namespace; nothing of the
 * system changes.
 */
function eximWrapper(dir: string): string {
  const hasUser = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('Debian-exim:'))
  const wrapper = join(dir, 'exim')
  if (hasUser) {
    writeFileSync(wrapper, `#!/bin/sh\nexec ${EXIM} "$@"\n`, { mode: 0o755 })
    return wrapper
  }
  writeFileSync(join(dir, 'passwd'), `${readFileSync('/etc/passwd', 'utf8').trimEnd()}\nDebian-exim:x:${EXIM_UID}:${EXIM_UID}::/nonexistent:/usr/sbin/nologin\n`, { mode: 0o644 })
  writeFileSync(join(dir, 'group'), `${readFileSync('/etc/group', 'utf8').trimEnd()}\nDebian-exim:x:${EXIM_UID}:\n`, { mode: 0o644 })
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec unshare -m sh -c 'mount --bind ${dir}/passwd /etc/passwd && mount --bind ${dir}/group /etc/group && exec "$0" "$@"' ${EXIM} "$@"\n`,
    { mode: 0o755 },
  )
  return wrapper
}

function eximUid(): number {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('Debian-exim:'))
  return line ? Number(line.split(':')[2]) : EXIM_UID
}

function chownTree(path: string, uid: number): void {
  chownSync(path, uid, uid)
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name)
    if (e.isDirectory()) chownTree(p, uid)
    else chownSync(p, uid, uid)
  }
}

/** The messages in bob's Maildir, as a plain mail client reads them. */
function bobsMail(dir: string, who = 'bob'): string[] {
  const out: string[] = []
  for (const sub of ['new', 'cur']) {
    const d = join(dir, `mail/${who}/Maildir`, sub)
    if (existsSync(d)) for (const f of readdirSync(d)) out.push(readFileSync(join(d, f), 'latin1'))
  }
  return out
}

const skip = skipReason()

describe('a classic Exim + NNCP node and an Outpost node exchange mail both ways', { skip, timeout: 15 * 60_000 }, () => {
  let root: string
  let camp: TestNode
  let alice: Phone
  let aliceAddr: string
  let exim: string
  let eximConf: string
  let eximDir: string
  let campCfg: string
  let oldtownCfg: string
  let strangerCfg: string
  let keys: { camp: NncpKeys; oldtown: NncpKeys; stranger: NncpKeys }
  const phones: Phone[] = []

  /** Moves what one NNCP node holds for another through a folder, as nncp-xfer does with a stick; returns a copy of the folder as it was. */
  async function xfer(from: string, to: string, keep?: string): Promise<void> {
    const stick = join(root, 'stick')
    rmSync(stick, { recursive: true, force: true })
    mkdirSync(stick)
    await ok('nncp-xfer', ['-cfg', from, '-noprogress', '-mkdir', '-tx', stick])
    if (keep) cpSync(stick, keep, { recursive: true })
    await ok('nncp-xfer', ['-cfg', to, '-noprogress', '-rx', stick])
  }

  async function eximSend(from: string, to: string, subject: string, body: string, messageId: string, conf = eximConf): Promise<void> {
    const msg = `From: ${from}\nTo: ${to}\nSubject: ${subject}\nMessage-ID: ${messageId}\n\n${body}\n`
    await ok(exim, ['-C', conf, '-odi', '-oi', '-f', from, to], { input: msg })
  }

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'op-exim-'))
    chmodSync(root, 0o755)
    camp = await startNode({ domain: 'camp.test', name: 'camp' })
    const a = await camp.addAccount('alice')
    alice = await Phone.start('alice')
    phones.push(alice)
    aliceAddr = await alice.addAccountFromQr(await camp.dclogin(a.address))
    // bob's mail client writes plain, unencrypted email. Delta Chat 2.57
    // neither shows nor sends that while force_encryption is on (its
    // default): it drops it with "Fetched unencrypted message, ignoring".
    // Turned off, alice's client takes and writes classic email like any
    // mail client (docs/interop/exim.md says so).
    await alice.rpc.setConfig(alice.accountId, 'force_encryption', '0')

    keys = { camp: await newKeys(), oldtown: await newKeys(), stranger: await newKeys() }
    // Outpost's NNCP node: both neighbours may run rsmtp here, which is
    // `outpost classic receive`; Outpost itself decides whom it takes mail from.
    const receive = [process.execPath, OUTPOST_BIN, 'classic', 'receive', '--data', camp.data]
    campCfg = nncpConfig(join(root, 'camp-nncp'), keys.camp, { oldtown: { keys: keys.oldtown, exec: { rsmtp: receive } }, stranger: { keys: keys.stranger, exec: { rsmtp: receive } } })
    strangerCfg = nncpConfig(join(root, 'stranger-nncp'), keys.stranger, { outpost: { keys: keys.camp } })

    // The Exim node: its own dir, owned by Exim's user, which its pipe
    // transport runs nncp-exec as. umask 000 lets nncp-toss (root here)
    // and nncp-exec (Exim's user) share the spool; a real node runs both
    // as one user (docs/interop/exim.md).
    eximDir = join(root, 'oldtown')
    mkdirSync(join(eximDir, 'spool'), { recursive: true })
    mkdirSync(join(eximDir, 'log'))
    mkdirSync(join(eximDir, 'mail'))
    exim = eximWrapper(eximDir)
    eximConf = join(eximDir, 'exim.conf')
    oldtownCfg = nncpConfig(join(root, 'oldtown-nncp'), keys.oldtown, { outpost: { keys: keys.camp, exec: { rsmtp: [exim, '-C', eximConf, '-bS', '-odi'] } } }, '000')
    writeFileSync(join(root, 'oldtown-nncp', 'log'), '', { mode: 0o666 })
    writeFileSync(eximConf, eximConfig({ dir: eximDir, nncpCfg: oldtownCfg }), { mode: 0o644 })
    const uid = eximUid()
    for (const d of ['spool', 'log', 'mail']) chownTree(join(eximDir, d), uid)
    chownTree(join(root, 'oldtown-nncp'), uid)

    for (const args of [
      ['peer', 'add-classic', 'oldtown', '--domain', 'oldtown.test', '--nncp-node', keys.oldtown.id],
      // A schedule that will not fire during the test: the runs are the test's own.
      ['transport', 'add', 'oldtown', 'classic-nncp', '--set', 'node=oldtown', '--set', `cfg=${campCfg}`, '--schedule', '0 0 1 1 *'],
    ]) {
      const r = await camp.cli(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}${r.stdout}`)
    }
  })

  after(async () => {
    await Promise.allSettled(phones.map((p) => p.close()))
    await camp?.destroy()
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('the classic peer is listed with its NNCP node and domain, and no Outpost key', async () => {
    const r = await camp.cli(['peer', 'list'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`^oldtown\\toldtown\\.test\\tclassic\\tnncp:${keys.oldtown.id}$`, 'm'))
  })

  it('bob\'s mail from the Exim node reaches alice\'s Delta Chat once, and the same packets fed again add nothing', async () => {
    const since = alice.mark()
    const text = `Greetings from the old town at ${Date.now()}`
    await eximSend('bob@oldtown.test', aliceAddr, 'from the old town', text, '<bob-1@oldtown.test>')
    const packets = join(root, 'packets-to-camp')
    await xfer(oldtownCfg, campCfg, packets)
    const tossed = await camp.cli(['transport', 'run', '1'])
    assert.equal(tossed.code, 0, `${tossed.stderr}${tossed.stdout}`)
    // Delta Chat shows a classic email as its subject and text.
    const got = await alice.waitForIncoming((m) => m.text.includes(text), WAIT_MS, since)
    assert.equal(got.message.sender.address, 'bob@oldtown.test')
    const chatId = got.message.chatId

    // The same NNCP packets once more, through NNCP's own path, then a
    // second message behind them: once that one is in, the first one fed
    // again would be in too, had it been delivered again.
    rmSync(join(root, 'stick'), { recursive: true, force: true })
    cpSync(packets, join(root, 'stick'), { recursive: true })
    await ok('nncp-xfer', ['-cfg', campCfg, '-noprogress', '-rx', join(root, 'stick')])
    await ok('nncp-toss', ['-cfg', campCfg, '-noprogress'])
    const marker = `And a second one at ${Date.now()}`
    await eximSend('bob@oldtown.test', aliceAddr, 'again', marker, '<bob-1b@oldtown.test>')
    await xfer(oldtownCfg, campCfg)
    await ok('nncp-toss', ['-cfg', campCfg, '-noprogress'])
    const chatTexts = async () => {
      const ids = await alice.rpc.getMessageIds(alice.accountId, chatId, false, false)
      return Object.values(await alice.rpc.getMessages(alice.accountId, ids)).map((m) => (m as { text?: string }).text ?? '')
    }
    // A second message in a chat that is still a contact request raises no IncomingMsg: the chat is read instead.
    const texts = await waitFor('the second message in alice\'s chat with bob', async () => {
      const t = await chatTexts()
      return t.some((x) => x.includes(marker)) ? t : undefined
    }, { timeoutMs: WAIT_MS })
    assert.equal(texts.filter((t) => t.includes(text)).length, 1, `the packets fed again delivered a second copy: ${JSON.stringify(texts)}`)
  })

  it('a batch the handler is given twice, or again with another trace line, is delivered once: the ledger keys on the message', async () => {
    const batch = (received: string) =>
      Buffer.from(
        `MAIL FROM:<bob@oldtown.test>\r\nRCPT TO:<${aliceAddr}>\r\nDATA\r\n${received}From: bob@oldtown.test\r\nTo: ${aliceAddr}\r\nSubject: twice\r\nMessage-ID: <bob-2@oldtown.test>\r\n\r\nonly once\r\n.\r\n`,
        'latin1',
      )
    const env = { NNCP_SENDER: keys.oldtown.id }
    const receive = (b: Buffer) => run(process.execPath, [OUTPOST_BIN, 'classic', 'receive', '--data', camp.data], { input: b, env })
    const first = await receive(batch(''))
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /1 delivered here/)
    const again = await receive(batch(''))
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /already imported/)
    const retraced = await receive(batch('Received: from oldtown.test by oldtown.test; Mon, 7 Dec 2026 12:00:00 +0000\r\n'))
    assert.equal(retraced.code, 0, retraced.stderr)
    assert.match(retraced.stdout, /0 delivered here, 0 forwarded, 1 already had/)
  })

  it('alice\'s Delta Chat message reaches bob\'s Maildir on the Exim node once, and leaves Outpost\'s outbox', async () => {
    const text = `Hello old town, from the camp at ${Date.now()}`
    const contact = await alice.rpc.createContact(alice.accountId, 'bob@oldtown.test', 'bob')
    const chatId = await alice.rpc.createChatByContactId(alice.accountId, contact)
    // Plain email: bob has no key, and force_encryption is off (see before()).
    await alice.sendText(chatId, text)
    await waitFor('alice\'s message in the outbox for oldtown', async () => /oldtown: 1 messages/.test((await camp.cli(['queue'])).stdout), { timeoutMs: WAIT_MS })
    const sent = await camp.cli(['transport', 'run', '1'])
    assert.equal(sent.code, 0, `${sent.stderr}${sent.stdout}`)
    assert.match(sent.stdout, /queued 1 messages in 1 batch SMTP packets/)
    assert.doesNotMatch((await camp.cli(['queue'])).stdout, /oldtown: \d+ messages/, 'the message left the outbox once NNCP took it')
    // A second run sends nothing again.
    const rerun = await camp.cli(['transport', 'run', '1'])
    assert.match(rerun.stdout, /queued 0 messages/)

    const packets = join(root, 'packets-to-oldtown')
    await xfer(campCfg, oldtownCfg, packets)
    // -seen: NNCP remembers the packets it tossed, and nncp-xfer takes none
    // of them in again. Exim keeps no ledger, so this is the classic node's
    // only guard against a stick fed twice (docs/interop/exim.md).
    await ok('nncp-toss', ['-cfg', oldtownCfg, '-noprogress', '-seen'])
    const withText = () => bobsMail(eximDir).filter((m) => m.includes(text))
    assert.equal(withText().length, 1, `bob's Maildir should hold the message once; it holds ${bobsMail(eximDir).length} messages`)
    const [mail] = withText()
    assert.match(mail!, new RegExp(`^Return-path: <${aliceAddr}>`, 'mi'))
    assert.match(mail!, /^Envelope-to: bob@oldtown\.test/mi)

    // The same packets again: NNCP or the spool refuses them, and bob gets no second copy.
    rmSync(join(root, 'stick'), { recursive: true, force: true })
    cpSync(packets, join(root, 'stick'), { recursive: true })
    await ok('nncp-xfer', ['-cfg', oldtownCfg, '-noprogress', '-rx', join(root, 'stick')])
    await ok('nncp-toss', ['-cfg', oldtownCfg, '-noprogress', '-seen'])
    assert.equal(withText().length, 1, 'the packets fed again delivered a second copy to bob')
  })

  it('a batch from an NNCP node that is no classic peer is refused and kept in quarantine with the reason', async () => {
    const before = listQuarantine(join(camp.data, 'quarantine')).length
    const batch = `MAIL FROM:<eve@stranger.test>\r\nRCPT TO:<${aliceAddr}>\r\nDATA\r\nFrom: eve@stranger.test\r\nMessage-ID: <eve-1@stranger.test>\r\n\r\nlet me in\r\n.\r\nQUIT\r\n`
    await ok('nncp-exec', ['-cfg', strangerCfg, '-noprogress', '-quiet', 'outpost', 'rsmtp'], { input: batch })
    await xfer(strangerCfg, campCfg)
    await ok('nncp-toss', ['-cfg', campCfg, '-noprogress'])
    const q = listQuarantine(join(camp.data, 'quarantine'))
    assert.equal(q.length, before + 1)
    assert.match(q.map((e) => e.reason).join('\n'), new RegExp(`not-a-peer: NNCP node ${keys.stranger.id} is not a classic peer`))
    assert.equal(messageIdCounts(camp.data, aliceAddr).get('<eve-1@stranger.test>') ?? 0, 0)
  })

  it('a message from the classic peer with a sender outside its domains is refused and kept in quarantine with the reason', async () => {
    const before = listQuarantine(join(camp.data, 'quarantine')).length
    // Exim lets its trusted caller set any sender; the batch is authentic NNCP from oldtown.
    await eximSend('mallory@elsewhere.test', aliceAddr, 'not from the old town', 'spoofed', '<mallory-1@elsewhere.test>')
    await xfer(oldtownCfg, campCfg)
    await ok('nncp-toss', ['-cfg', campCfg, '-noprogress'])
    const q = listQuarantine(join(camp.data, 'quarantine'))
    assert.equal(q.length, before + 1)
    assert.match(q.map((e) => e.reason).join('\n'), /oldtown may not send as <mallory@elsewhere\.test> \(envelope sender\)/)
    assert.equal(messageIdCounts(camp.data, aliceAddr).get('<mallory-1@elsewhere.test>') ?? 0, 0)
  })

  it('with Filespooler as the carrier, mail crosses both ways once (classic receive --peer, classic-fspl), and a peer that sends by NNCP cannot be spoken for', async () => {
    // A second Exim node, farm.test, whose transport writes each batch as a
    // Filespooler job; its jobs are copied into the Outpost node's queue,
    // as any carrier of files would.
    const farm = join(root, 'farm')
    for (const d of ['spool', 'log', 'mail']) mkdirSync(join(farm, d), { recursive: true })
    const outq = join(root, 'fspl-farm-out')
    const inq = join(root, 'fspl-farm-in')
    await ok('fspl', ['queue-init', '-q', outq])
    await ok('fspl', ['queue-init', '-q', inq])
    const script = join(farm, 'fspl-bsmtp')
    writeFileSync(script, `#!/bin/sh\nexec fspl prepare -s ${join(farm, 'seq')} -i - | fspl queue-write -q ${outq}\n`, { mode: 0o755 })
    const conf = join(farm, 'exim.conf')
    writeFileSync(conf, eximConfig({ dir: farm, nncpCfg: '', domain: 'farm.test', fsplScript: script }), { mode: 0o644 })
    const uid = eximUid()
    for (const d of ['spool', 'log', 'mail']) chownTree(join(farm, d), uid)
    chownSync(farm, uid, uid)
    chownTree(outq, uid)

    const add = await camp.cli(['peer', 'add-classic', 'farm', '--domain', 'farm.test'])
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout, /classic receive --peer farm/)

    const since = alice.mark()
    const text = `Eggs from the farm at ${Date.now()}`
    await eximSend('carol@farm.test', aliceAddr, 'eggs', text, '<carol-1@farm.test>', conf)
    const jobs = readdirSync(join(outq, 'jobs'))
    assert.equal(jobs.length, 1, 'Exim wrote one Filespooler job')
    for (const j of jobs) cpSync(join(outq, 'jobs', j), join(inq, 'jobs', j))
    const processed = await run('fspl', ['queue-process', '-q', inq, process.execPath, '--', OUTPOST_BIN, 'classic', 'receive', '--peer', 'farm', '--data', camp.data])
    assert.equal(processed.code, 0, `${processed.stderr}${processed.stdout}`)
    assert.match(processed.stdout, /classic batch from farm: 1 messages, 1 delivered here/)
    const got = await alice.waitForIncoming((m) => m.text.includes(text), WAIT_MS, since)
    assert.equal(got.message.sender.address, 'carol@farm.test')

    // And back: alice writes to carol; the classic-fspl carrier turns it into
    // a job, which farm's queue hands to Exim's -bS.
    const toCarol = `Thanks for the eggs, at ${Date.now()}`
    const contact = await alice.rpc.createContact(alice.accountId, 'carol@farm.test', 'carol')
    await alice.sendText(await alice.rpc.createChatByContactId(alice.accountId, contact), toCarol)
    await waitFor('alice\'s message in the outbox for farm', async () => /farm: 1 messages/.test((await camp.cli(['queue'])).stdout), { timeoutMs: WAIT_MS })
    const toFarm = join(root, 'fspl-camp-to-farm')
    const farmIn = join(root, 'fspl-farm-in-from-camp')
    const t = await camp.cli(['transport', 'add', 'farm', 'classic-fspl', '--set', `outqueue=${toFarm}`, '--schedule', '0 0 1 1 *'])
    assert.equal(t.code, 0, t.stderr)
    const id = /transport (\d+)/.exec(t.stdout)?.[1] ?? '2'
    const sent = await camp.cli(['transport', 'run', id])
    assert.equal(sent.code, 0, `${sent.stderr}${sent.stdout}`)
    assert.match(sent.stdout, /queued 1 messages in 1 batch SMTP jobs/)
    assert.doesNotMatch((await camp.cli(['queue'])).stdout, /farm: \d+ messages/)
    await ok('fspl', ['queue-init', '-q', farmIn])
    for (const j of readdirSync(join(toFarm, 'jobs'))) cpSync(join(toFarm, 'jobs', j), join(farmIn, 'jobs', j))
    await ok('fspl', ['queue-process', '-q', farmIn, exim, '--', '-C', conf, '-bS', '-odi'])
    assert.equal(bobsMail(farm, 'carol').filter((m) => m.includes(toCarol)).length, 1, 'carol\'s Maildir holds alice\'s message once')
    // The same job copied in again: fspl has run that number, and runs it no more.
    for (const j of readdirSync(join(toFarm, 'jobs'))) cpSync(join(toFarm, 'jobs', j), join(farmIn, 'jobs', j))
    await run('fspl', ['queue-process', '-q', farmIn, exim, '--', '-C', conf, '-bS', '-odi'])
    assert.equal(bobsMail(farm, 'carol').filter((m) => m.includes(toCarol)).length, 1, 'the job fed again delivered a second copy')

    // oldtown sends by NNCP: a batch that claims to be oldtown's without NNCP's word is kept, not taken.
    const claimed = await run(process.execPath, [OUTPOST_BIN, 'classic', 'receive', '--peer', 'oldtown', '--data', camp.data], {
      input: `MAIL FROM:<bob@oldtown.test>\r\nRCPT TO:<${aliceAddr}>\r\nDATA\r\nFrom: bob@oldtown.test\r\nMessage-ID: <fake@oldtown.test>\r\n\r\nnot really bob\r\n.\r\n`,
      env: { NNCP_SENDER: '' },
    })
    assert.equal(claimed.code, 0, claimed.stderr)
    assert.match(claimed.stderr, /QUARANTINED \(not-a-peer: classic peer "oldtown" sends by NNCP/)
  })
})
