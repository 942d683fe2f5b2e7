// A gateway node (town.example) on a fake Internet made of real parts: the
// friend's provider for elsewhere.test is Debian's Postfix (MX and
// submission) in front of a Dovecot, and the gateway's static MX table
// stands in for DNS. The off-grid node camp.test reaches the gateway over
// the HTTP transport with pickup. What a person would notice is checked:
// where mail lands, whether it carries a DKIM signature that an independent
// verifier (python3-dkim) accepts, what a stranger is told, that the
// smarthost gets the password only inside TLS it can verify, and that the
// password shows up nowhere.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairSync } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import Database from 'better-sqlite3'
import { startNode, type TestNode } from '../../helpers/node.js'
import { befriend } from '../../helpers/stick.js'
import { freePort } from '../../helpers/ports.js'
import { smtpClient, maildirFiles } from '../../helpers/mail.js'
import { SmtpDialogue } from '../../helpers/smtp-dialogue.js'
import { startFakeRelay } from '../../helpers/fake-relay.js'
import { canRunProvider, dkimRecords, dkimVerify, startProvider, type Provider } from '../../helpers/provider.js'
import { nodePaths } from '../../../server/base/paths.js'
import { loadIdentity } from '../../../server/identity/keys.js'
import { bundleFileName, newBundleId, sealBundle } from '../../../server/bundle/format.js'
import { stickFolder } from '../../../server/bundle/stick-layout.js'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import { waitFor } from '../../helpers/wait.js'


function message(from: string, to: string, subject: string): string {
  return [`From: <${from}>`, `To: <${to}>`, `Subject: ${subject}`, `Message-ID: <${subject.replace(/\W+/g, '.')}@test>`, `Date: ${new Date().toUTCString()}`, '', `Body of ${subject}.`, ''].join('\r\n')
}

const skip = canRunProvider()

describe('a gateway between the group and the Internet', { skip, timeout: 10 * 60_000 }, () => {
  let provider: Provider
  let town: TestNode
  let camp: TestNode
  let inbound: number
  let records: Record<string, string> = {}
  let bob: { address: string; password: string }
  let alice: { address: string; password: string }
  let transportId = ''

  before(async () => {
    inbound = await freePort()
    const mx = await freePort()
    provider = await startProvider({ domain: 'elsewhere.test', relay: { host: '127.0.0.1', port: inbound }, smtpPort: mx })
    await provider.addAccount('friend')
    town = await startNode({
      domain: 'town.example',
      name: 'town',
      start: false,
      env: {
        // The provider's certificate is its own (self-signed): the gateway
        // trusts it as it would a CA, so the smarthost's TLS can be verified.
        NODE_EXTRA_CA_CERTS: nodePaths(provider.node.data).tlsCert,
        OUTPOST_GATEWAY_ENABLED: 'true',
        OUTPOST_GATEWAY_INBOUND_PORT: String(inbound), OUTPOST_GATEWAY_STATIC_MX: `elsewhere.test=127.0.0.1:${mx},nowhere.test=127.0.0.1:${mx}`, OUTPOST_GATEWAY_INBOUND_BURST: '5' },
    })
    camp = await startNode({ domain: 'camp.test', name: 'camp' })
    await befriend(camp, town)
    for (const d of ['town.example', 'camp.test']) {
      const r = await town.cli(['dkim', d])
      assert.equal(r.code, 0, r.stderr)
      records = { ...records, ...dkimRecords(r.stdout) }
    }
    await town.restart()
    bob = await town.addAccount('bob')
    alice = await camp.addAccount('alice')
    assert.equal((await camp.cli(['route', 'add', '*', 'town'])).code, 0)
    const t = await camp.cli(['transport', 'add', 'town', 'http', '--schedule', '0 0 1 1 *', '--set', `url=https://127.0.0.1:${town.ports.web}`, '--set', 'pickup=yes'])
    assert.equal(t.code, 0, t.stderr)
    transportId = /added transport (\d+)/.exec(t.stdout)![1]!
  })

  after(async () => {
    await camp?.destroy()
    await town?.destroy()
    await provider?.stop()
  })

  it('prints a DKIM record per domain to publish', () => {
    assert.deepEqual(Object.keys(records).sort().map((n) => n.replace(/^[^.]+\./, '')), ['_domainkey.camp.test', '_domainkey.town.example'])
    for (const v of Object.values(records)) assert.match(v, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/)
  })

  it('takes mail from the Internet for its own users and for the off-grid node, without AUTH', async () => {
    const { smtp, greeting } = await SmtpDialogue.open(inbound)
    assert.equal(greeting.code, 220)
    assert.equal((await smtp.cmd('EHLO mx.elsewhere.test')).code, 250)
    assert.equal((await smtp.cmd('MAIL FROM:<friend@elsewhere.test>')).code, 250)
    assert.equal((await smtp.cmd(`RCPT TO:<${bob.address}>`)).code, 250)
    assert.equal((await smtp.cmd(`RCPT TO:<${alice.address}>`)).code, 250)
    const done = await smtp.data(message('friend@elsewhere.test', alice.address, 'Hello from outside'))
    assert.equal(done.code, 250, done.text)
    smtp.close()
    assert.equal(maildirFiles(town.data, bob.address).length, 1, "bob's mailbox on the gateway has it")
    const q = await town.cli(['queue'])
    assert.match(q.stdout, /^camp: 1 messages/m, 'the copy for alice waits in the outbox for camp')
  })

  it('is not an open relay: a stranger cannot send to the friend or to any other domain through it', async () => {
    const before = provider.archived().length
    const { smtp } = await SmtpDialogue.open(inbound)
    await smtp.cmd('EHLO stranger.example')
    assert.equal((await smtp.cmd('MAIL FROM:<spam@stranger.example>')).code, 250)
    const toFriend = await smtp.cmd('RCPT TO:<friend@elsewhere.test>')
    assert.equal(toFriend.code, 550, toFriend.text)
    assert.match(toFriend.text, /Relaying denied/)
    assert.equal((await smtp.cmd('RCPT TO:<someone@random.example>')).code, 550)
    assert.equal((await smtp.cmd(`RCPT TO:<nobody@town.example>`)).code, 550, 'unknown local users are refused too')
    assert.equal((await smtp.cmd('DATA')).code, 503, 'no recipient, no message')
    smtp.close()
    // On the submission port nothing goes without AUTH, as before.
    const sub = await SmtpDialogue.open(town.ports.submission)
    await sub.smtp.cmd('EHLO stranger.example')
    assert.equal((await sub.smtp.cmd('MAIL FROM:<spam@stranger.example>')).code, 530)
    sub.smtp.close()
    // A message bob may send goes out after the refused ones; once it is at the
    // provider, anything the gateway had wrongly taken would be there too.
    const marker = `Allowed after the strangers ${Date.now()}`
    await smtpClient(town.ports.submission, bob).sendMail({ from: bob.address, to: 'friend@elsewhere.test', subject: marker, text: 'Allowed.' })
    await waitFor('the allowed message at the provider', () => provider.archived().find((m) => m.includes(marker)))
    assert.equal(provider.archived().length, before + 1, 'nothing but the allowed message reached the provider')
  })

  it('refuses a message over the size limit on the inbound port when it is announced', async () => {
    const { smtp } = await SmtpDialogue.open(inbound)
    const ehlo = await smtp.cmd('EHLO big.example')
    const size = Number(/SIZE (\d+)/.exec(ehlo.text)?.[1])
    assert.equal(size, 30 * 1024 * 1024, 'the limit is advertised')
    const r = await smtp.cmd(`MAIL FROM:<big@big.example> SIZE=${size + 1}`)
    // Haraka's own SIZE check answers 550 (RFC 1870 would prefer 552); either way permanent.
    assert.ok(r.code >= 550 && r.code <= 552, `${r.code} ${r.text}`)
    assert.match(r.text, /too big/i)
    smtp.close()
  })

  it('limits how fast one Internet client may deliver', async () => {
    let deferred = 0
    for (let i = 0; i < 8; i++) {
      const { smtp } = await SmtpDialogue.open(inbound)
      await smtp.cmd('EHLO burst.example')
      const r = await smtp.cmd('MAIL FROM:<burst@burst.example>')
      if (r.code === 450) deferred++
      smtp.close()
    }
    assert.ok(deferred >= 2, `expected the burst of 5 to run out, got ${deferred} deferrals`)
  })

  it("sends a local user's mail to the Internet by MX, DKIM-signed for town.example", async () => {
    const subject = `From the gateway ${Date.now()}`
    await smtpClient(town.ports.submission, bob).sendMail({ from: bob.address, to: 'friend@elsewhere.test', subject, text: 'Hi friend.' })
    const got = await waitFor('the provider to store it', () => provider.archived().find((m) => m.includes(subject)))
    const v = await dkimVerify(got, records)
    assert.ok(v.ok, `DKIM did not verify: ${v.detail}`)
    assert.match(v.detail, /town\.example/)
    // The activity log says it left, and where to.
    const sent = await waitFor('a message.sent event', () => {
      const db = new Database(join(town.data, 'outpost.db'), { readonly: true })
      try {
        const rows = db.prepare("SELECT data FROM events WHERE kind = 'message.sent'").all() as { data: string }[]
        return rows.map((r) => JSON.parse(r.data) as { recipient: string; via: string }).find((e) => e.recipient === 'friend@elsewhere.test')
      } finally {
        db.close()
      }
    })
    assert.equal(sent.via, '127.0.0.1')
  })

  it("carries an off-grid user's mail by bundle and sends it signed for camp.test; the Internet's mail for her comes back in the same run", async () => {
    const subject = `From the camp ${Date.now()}`
    await smtpClient(camp.ports.submission, alice).sendMail({ from: alice.address, to: 'friend@elsewhere.test', subject, text: 'Greetings from the hills.' })
    const r = await camp.cli(['transport', 'run', transportId])
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const got = await waitFor('the provider to store it', () => provider.archived().find((m) => m.includes(subject)))
    const v = await dkimVerify(got, records)
    assert.ok(v.ok, `DKIM did not verify: ${v.detail}`)
    assert.match(v.detail, /camp\.test/)
    const mine = maildirFiles(camp.data, alice.address).map((f) => readFileSync(f, 'latin1'))
    assert.equal(mine.filter((m) => m.includes('Hello from outside')).length, 1, 'the mail from outside reached alice once')
  })

  it('a message the Internet refuses comes back to its off-grid sender as a bounce, in a bundle', async () => {
    const subject = `To nowhere ${Date.now()}`
    // The provider is no MX for nowhere.test and refuses to relay: a permanent failure.
    await smtpClient(camp.ports.submission, alice).sendMail({ from: alice.address, to: 'ghost@nowhere.test', subject, text: 'Is anyone there?' })
    assert.equal((await camp.cli(['transport', 'run', transportId])).code, 0)
    await waitFor('the bounce waiting at the gateway for camp', async () => /^camp: 1 messages/m.test((await town.cli(['queue'])).stdout))
    assert.equal((await camp.cli(['transport', 'run', transportId])).code, 0)
    const bounce = await waitFor("the bounce in alice's mailbox", () => maildirFiles(camp.data, alice.address).map((f) => readFileSync(f, 'latin1')).find((m) => m.includes(subject) && m.includes('ghost@nowhere.test')))
    assert.match(bounce, /^Return-Path: <>/m, 'sent from the null sender, as a bounce must be')
  })

  it('refuses a bundle claiming to come from camp but signed with another key, and one in which camp sends as the gateway', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'op-forged-'))
    try {
      const townId = loadIdentity(nodePaths(town.data))
      const campId = loadIdentity(nodePaths(camp.data))
      const forge = async (signKey: typeof campId.signPrivate, sender: string, subject = `forged ${sender}`) => {
        const data = Buffer.from(message(sender, 'friend@elsewhere.test', subject))
        const now = Date.now()
        const header = { id: newBundleId(), kind: 'mail' as const, origin: 'camp', destination: 'town', created: now, expires: now + 86_400_000, hops: 0, hopLimit: 16 }
        const bytes = await sealBundle({ header, payload: { messages: [{ id: stableMessageId(data, sender), sender, recipients: ['friend@elsewhere.test'], data }] }, signKey, recipient: townId.ageRecipient })
        writeFileSync(join(stickFolder(dir, 'town'), bundleFileName(header)), bytes)
      }
      const { mkdirSync } = await import('node:fs')
      mkdirSync(stickFolder(dir, 'town'), { recursive: true })
      await forge(generateKeyPairSync('ed25519').privateKey, 'alice@camp.test')
      await forge(campId.signPrivate, 'bob@town.example')
      await town.cli(['import', dir])
      const qdir = join(town.data, 'quarantine')
      const reasons = readdirSync(qdir).filter((n) => n.endsWith('.reason.txt')).map((n) => readFileSync(join(qdir, n), 'utf8'))
      assert.ok(reasons.some((r) => /signature/i.test(r)), `a reason names the bad signature: ${reasons.join(' | ')}`)
      assert.ok(reasons.some((r) => /camp may not send as <bob@town.example>/.test(r)), `a reason names the sender: ${reasons.join(' | ')}`)
      // A genuine bundle from camp, imported after the forged ones: once its
      // message is at the provider, a forged one let through would be too.
      const genuine = `Genuine after the forgeries ${Date.now()}`
      await forge(campId.signPrivate, 'alice@camp.test', genuine)
      await town.cli(['import', dir])
      await waitFor('the genuine message at the provider', () => provider.archived().find((m) => m.includes(genuine)))
      assert.equal(provider.archived().filter((m) => m.includes('forged')).length, 0, 'nothing forged reached the provider')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  /** Sets the smarthost and waits until the gateway's Haraka has restarted to require TLS there and answers again. */
  async function setSmarthost(port: number, user: string, password: string): Promise<{ stdout: string; stderr: string }> {
    const pwFile = join(mkdtempSync(join(tmpdir(), 'op-pw-')), 'pw')
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 })
    const before = (town.output().match(/restarting Haraka so that it requires TLS there/g) ?? []).length
    const relaunched = () => (town.output().match(/\bharaka restarted\b/g) ?? []).length
    const relaunchedBefore = relaunched()
    const set = await town.cli(['uplink', 'smarthost', 'set', `127.0.0.1:${port}`, '--user', user, '--password-file', pwFile])
    rmSync(join(pwFile, '..'), { recursive: true, force: true })
    assert.equal(set.code, 0, set.stderr)
    assert.match(set.stdout, /must offer STARTTLS with a certificate a CA vouches for/)
    // Only a new host needs the restart: every smarthost here is 127.0.0.1.
    if (!/force_tls_hosts=127\.0\.0\.1$/m.test(readFileSync(join(town.data, 'haraka', 'config', 'tls.ini'), 'utf8'))) {
      await waitFor('the gateway to restart Haraka for the smarthost', () => (town.output().match(/restarting Haraka so that it requires TLS there/g) ?? []).length > before)
      // The old Haraka may still answer until it has stopped; only then is the new one started.
      await waitFor('the old Haraka to stop and the new one to start', () => relaunched() > relaunchedBefore)
    }
    await waitFor('Haraka to answer again', async () => {
      try {
        const { smtp, greeting } = await SmtpDialogue.open(town.ports.submission)
        await smtp.cmd('QUIT').catch(() => undefined)
        return greeting.code === 220
      } catch {
        return false
      }
    })
    return set
  }

  it('gives the smarthost password to no relay that cannot show verified TLS: neither one without STARTTLS nor one with a certificate nobody vouches for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'op-fake-relay-'))
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=relay.invalid', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
      const impostor = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }
      for (const [what, starttls] of [['no STARTTLS', undefined], ['an unvouched certificate', impostor]] as const) {
        const relay = await startFakeRelay({ port: await freePort(), starttls })
        try {
          const secret = `Fake-${Date.now()}-pw`
          await setSmarthost(relay.port, 'relayuser@elsewhere.test', secret)
          const subject = `Not for a fake relay (${what}) ${Date.now()}`
          const logFile = join(town.data, 'log', 'haraka.out.log')
          const logFrom = readFileSync(logFile, 'utf8').length
          await smtpClient(town.ports.submission, bob).sendMail({ from: bob.address, to: 'friend@elsewhere.test', subject, text: 'Must wait.' })
          await waitFor(`Haraka to try the relay with ${what}`, () => relay.lines.some((l) => /^EHLO /i.test(l)))
          // Haraka gives up on it, and says so in its log: after that line it sends the relay nothing more.
          // The impostor's certificate fails Node's check in the handshake.
          const gaveUp = starttls ? new RegExp(`connection failed to 127\\.0\\.0\\.1:${relay.port} : Error: self-signed certificate`) : /No TLS available but required by configuration/
          await waitFor(`Haraka to give up on the relay with ${what}`, () => gaveUp.test(readFileSync(logFile, 'utf8').slice(logFrom)))
          const said = relay.lines.join(' | ')
          assert.ok(!relay.lines.some((l) => /^(tls:)?(AUTH|MAIL|RCPT|DATA)\b/i.test(l)), `the relay with ${what} was sent only: ${said}`)
          if (!starttls) assert.ok(!relay.lines.includes('STARTTLS'))
          else assert.ok(relay.lines.includes('STARTTLS'), said)
          assert.ok(!said.includes(Buffer.from(secret).toString('base64').slice(0, 8)), 'no password, not even encoded')
          assert.ok(!provider.archived().some((m) => m.includes(subject)), 'the message did not go anywhere else either')
        } finally {
          await relay.close()
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
      assert.equal((await town.cli(['uplink', 'smarthost', 'clear'])).code, 0)
    }
  })

  it('sends through a smarthost with AUTH, and its password shows up in no log, output, config or database page', async () => {
    const secret = `Sm4rt-${Date.now()}-pw`
    const { password } = await provider.addAccount('relayuser').then(async (a) => {
      // The provider's account gets the secret as its password, so Postfix's AUTH really checks it.
      const r = await provider.node.cli(['account', 'passwd', a.address, '--password', secret])
      assert.equal(r.code, 0, r.stderr)
      return { password: secret }
    })
    const set = await setSmarthost(provider.smtpPort, 'relayuser@elsewhere.test', password)
    const subject = `Via the smarthost ${Date.now()}`
    await smtpClient(town.ports.submission, bob).sendMail({ from: bob.address, to: 'friend@elsewhere.test', subject, text: 'Through the relay.' })
    await waitFor('the provider to store it', () => provider.archived().find((m) => m.includes(subject)))
    assert.match(await provider.maillog(), /sasl_username=relayuser@elsewhere\.test/, 'Postfix saw the gateway log in')
    assert.match(readFileSync(join(town.data, 'log', 'haraka.out.log'), 'utf8'), /secured[^\n]*verified=true/, "Haraka checked the relay's certificate")

    const shown = await town.cli(['uplink', 'show'])
    const status = await town.cli(['status'])
    assert.match(shown.stdout, /smarthost 127\.0\.0\.1:\d+ as relayuser@elsewhere\.test, password set/)
    const places: [string, string][] = [
      ['uplink show', shown.stdout + shown.stderr],
      ['status', status.stdout + status.stderr],
      ['smarthost set', set.stdout + set.stderr],
      ["the node's output", town.output()],
    ]
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((n) => {
        const p = join(dir, n)
        const st = statSync(p)
        return st.isDirectory() ? walk(p) : st.isFile() && st.size < 50 * 1024 * 1024 ? [p] : []
      })
    for (const f of [...walk(join(town.data, 'log')), ...walk(join(town.data, 'haraka', 'config')), join(town.data, 'outpost.toml'), ...walk(town.data).filter((p) => /outpost\.db/.test(p))]) {
      places.push([f, readFileSync(f, 'latin1')])
    }
    for (const [where, text] of places) assert.ok(!text.includes(secret), `the smarthost password appears in ${where}`)
    assert.equal((await town.cli(['uplink', 'smarthost', 'clear'])).code, 0)
  })
})
