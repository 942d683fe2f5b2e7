// Without a gateway: an ordinary email account at the friend's provider
// (Postfix + Dovecot, plus-addresses) is camp's uplink. alice's mail leaves
// through the account's SMTP with its From: rewritten to the account (the
// provider sends only as it), and the friend's answer to the plus-address
// comes back through IMAP into alice's mailbox. Plain email, not Delta
// Chat: docs/uplink.md says why Delta Chat's encryption cannot cross this.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode, type TestNode } from '../../helpers/node.js'
import { freePort } from '../../helpers/ports.js'
import { smtpClient, maildirFiles } from '../../helpers/mail.js'
import { canRunProvider, startProvider, type Provider } from '../../helpers/provider.js'
import { waitFor } from '../../helpers/wait.js'


describe('an ordinary email account as the uplink', { skip: canRunProvider(), timeout: 5 * 60_000 }, () => {
  let provider: Provider
  let camp: TestNode
  let alice: { address: string; password: string }
  let friend: { address: string; password: string }
  let group: { address: string; password: string }
  let setOutput = ''

  before(async () => {
    provider = await startProvider({ domain: 'elsewhere.test', relay: { host: '127.0.0.1', port: await freePort() } })
    friend = await provider.addAccount('friend')
    group = await provider.addAccount('group')
    camp = await startNode({ domain: 'camp.test', name: 'camp' })
    alice = await camp.addAccount('alice')
    const dir = mkdtempSync(join(tmpdir(), 'op-pw-'))
    writeFileSync(join(dir, 'pw'), group.password, { mode: 0o600 })
    const set = await camp.cli(['uplink', 'account', 'set', group.address, '--smtp', `127.0.0.1:${provider.smtpPort}`, '--imap', `127.0.0.1:${provider.node.ports.imap}`, '--password-file', join(dir, 'pw'), '--insecure-tls'])
    rmSync(dir, { recursive: true, force: true })
    assert.equal(set.code, 0, set.stderr)
    setOutput = set.stdout + set.stderr
    const kind = await camp.cli(['uplink', 'set', '--kind', 'account', '--probe-seconds', '3600'])
    assert.equal(kind.code, 0, kind.stderr)
  })

  after(async () => {
    await camp?.destroy()
    await provider?.stop()
  })

  it("alice's mail leaves as the account, with a Reply-To that finds her again", async () => {
    const subject = `Out through the account ${Date.now()}`
    await smtpClient(camp.ports.submission, alice).sendMail({ from: alice.address, to: friend.address, subject, text: 'Hello from the camp.' })
    // It waits in the outbox under @internet until a run sends it (the node's own run may already have).
    assert.match((await camp.cli(['queue'])).stdout, /^@internet: 1 messages|the outbox is empty/m)
    // The node itself runs the uplink when the account's server starts to
    // answer; this run waits for that one, so the message has left once,
    // whichever of the two sent it.
    const run = await camp.cli(['uplink', 'account', 'run'])
    assert.equal(run.code, 0, run.stderr)
    const got = await waitFor("the friend's mailbox to have it", () => maildirFiles(provider.node.data, friend.address).map((f) => readFileSync(f, 'latin1')).find((m) => m.includes(subject)))
    const head = got.split(/\r?\n\r?\n/)[0]!
    assert.match(head, /^From: "alice@camp\.test" <group@elsewhere\.test>$/m)
    assert.match(head, /^Reply-To: <group\+alice@elsewhere\.test>$/m)
    assert.match(head, /^X-Original-From: <alice@camp\.test>$/m)
    assert.match((await camp.cli(['queue'])).stdout, /the outbox is empty/)
    // A second message takes the same way after it; once that one is in the
    // friend's mailbox, a second copy of the first would be there too.
    const marker = `After the first, through the account ${Date.now()}`
    await smtpClient(camp.ports.submission, alice).sendMail({ from: alice.address, to: friend.address, subject: marker, text: 'Second.' })
    const again = await camp.cli(['uplink', 'account', 'run'])
    assert.equal(again.code, 0, again.stderr)
    await waitFor("the friend's mailbox to have the second", () => maildirFiles(provider.node.data, friend.address).some((f) => readFileSync(f, 'latin1').includes(marker)))
    assert.equal(maildirFiles(provider.node.data, friend.address).filter((f) => readFileSync(f, 'latin1').includes(subject)).length, 1, 'sent once')
  })

  it("the friend's answer to the plus-address is fetched into alice's mailbox, and the account's INBOX is emptied", async () => {
    const subject = `Back through the account ${Date.now()}`
    await smtpClient(provider.smtpPort, friend).sendMail({ from: friend.address, to: 'group+alice@elsewhere.test', subject, text: 'Hello camp.' })
    await smtpClient(provider.smtpPort, friend).sendMail({ from: friend.address, to: 'group+nobody@elsewhere.test', subject: `${subject} (stray)`, text: '?' })
    await waitFor("the account's INBOX to have both", () => maildirFiles(provider.node.data, group.address).length >= 2 || undefined)
    const run = await camp.cli(['uplink', 'account', 'run'])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /fetched 2: 1 delivered here or queued for peers, 1 to quarantine/)
    const mine = maildirFiles(camp.data, alice.address).map((f) => readFileSync(f, 'latin1'))
    assert.equal(mine.filter((m) => m.includes(subject) && !m.includes('(stray)')).length, 1)
    assert.equal(maildirFiles(provider.node.data, group.address).length, 0, 'fetched mail is removed from the account')
    const again = await camp.cli(['uplink', 'account', 'run'])
    assert.match(again.stdout, /fetched 0/)
  })

  it('the account password shows up in no output', async () => {
    const shown = await camp.cli(['uplink'])
    const status = await camp.cli(['status'])
    assert.match(shown.stdout, /uplink: email account group@elsewhere\.test .*password set/)
    for (const out of [shown.stdout, status.stdout, setOutput, camp.output()]) assert.ok(!out.includes(group.password))
  })
})
