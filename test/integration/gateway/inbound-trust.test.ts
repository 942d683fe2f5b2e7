// What a gateway's inbound port (where the Internet delivers, without AUTH)
// makes of mail that claims to come from the group, and what it records
// about the rest: SPF and DKIM results in an Authentication-Results header.
// The machine has no DNS: each lookup ends in an error or a timeout, and
// the result ("none", "temperror", …) is recorded, never a refusal.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { startNode, type TestNode } from '../../helpers/node.js'
import { befriend } from '../../helpers/stick.js'
import { freePort } from '../../helpers/ports.js'
import { maildirFiles, smtpClient } from '../../helpers/mail.js'
import { SmtpDialogue } from '../../helpers/smtp-dialogue.js'

describe("a gateway's inbound port and the group's own domains", { timeout: 5 * 60_000 }, () => {
  let town: TestNode
  let camp: TestNode
  let inbound: number
  let bob: { address: string; password: string }

  before(async () => {
    inbound = await freePort()
    town = await startNode({ domain: 'town.example', name: 'town', start: false, env: { OUTPOST_GATEWAY_ENABLED: 'true', OUTPOST_GATEWAY_INBOUND_PORT: String(inbound) } })
    camp = await startNode({ domain: 'camp.test', name: 'camp', start: false })
    await befriend(camp, town)
    await town.restart()
    bob = await town.addAccount('bob')
  })

  after(async () => {
    await camp?.destroy()
    await town?.destroy()
  })

  const stored = () => maildirFiles(town.data, bob.address).map((f) => readFileSync(f, 'latin1'))

  /** One delivery from the Internet: every reply on the way, up to the one that refused (or the 250). */
  async function deliver(mailFrom: string, message: string): Promise<{ code: number; text: string; at: string }> {
    const { smtp } = await SmtpDialogue.open(inbound)
    try {
      await smtp.cmd('EHLO mx.elsewhere.test')
      const mail = await smtp.cmd(`MAIL FROM:<${mailFrom}>`)
      if (mail.code !== 250) return { ...mail, at: 'MAIL' }
      const rcpt = await smtp.cmd(`RCPT TO:<${bob.address}>`)
      if (rcpt.code !== 250) return { ...rcpt, at: 'RCPT' }
      return { ...(await smtp.data(message)), at: 'DATA' }
    } finally {
      smtp.close()
    }
  }

  const message = (from: string, subject: string, extra: string[] = []) =>
    [...extra, `From: ${from}`, `To: <${bob.address}>`, `Subject: ${subject}`, `Message-ID: <${subject}@elsewhere.test>`, '', `${subject}`, ''].join('\r\n')

  it("refuses the group's own and its peers' domains as the sender, in the envelope and in From:", async () => {
    for (const sender of ['carol@town.example', 'alice@camp.test', 'Alice@CAMP.test']) {
      const r = await deliver(sender, message(sender, 'forged-envelope'))
      assert.equal(r.code, 550, `${sender}: ${r.at} ${r.text}`)
      assert.equal(r.at, 'MAIL')
      assert.match(r.text, /group's domain/)
    }
    const r = await deliver('friend@elsewhere.test', message('"Bob" <bob@town.example>', 'forged-from'))
    assert.equal(r.code, 550, r.text)
    assert.match(r.text, /From: is at this group's domain town\.example/)

    // An honest message after them arrives: by then the forged ones would have too.
    const ok = await deliver('friend@elsewhere.test', message('Friend <friend@elsewhere.test>', 'honest-after-forged'))
    assert.equal(ok.code, 250, ok.text)
    const box = stored()
    assert.equal(box.filter((m) => m.includes('honest-after-forged')).length, 1)
    assert.equal(box.filter((m) => m.includes('Subject: forged')).length, 0, 'no forged message reached bob')
  })

  it('records SPF and DKIM results of Internet mail in Authentication-Results, and refuses nothing for them', async () => {
    // A signature whose key cannot be looked up (no DNS here): the verifier runs and says so.
    const signature = 'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=elsewhere.test; s=sel; h=from:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA'
    assert.equal((await deliver('friend@elsewhere.test', message('friend@elsewhere.test', 'unsigned-inbound'))).code, 250)
    assert.equal((await deliver('friend@elsewhere.test', message('friend@elsewhere.test', 'signed-inbound', [signature]))).code, 250)
    // A bounce: the null sender is checked by its HELO name.
    assert.equal((await deliver('', message('MAILER-DAEMON@elsewhere.test', 'bounce-inbound'))).code, 250)

    const headerOf = (subject: string) => {
      const m = stored().find((x) => x.includes(`Subject: ${subject}`))
      assert.ok(m, `${subject} stored`)
      // Dovecot stores LF line ends.
      return m.split(/\r?\n\r?\n/, 1)[0]!.replace(/\r?\n[ \t]+/g, ' ')
    }
    const ar = (subject: string) => /^Authentication-Results: town\.example;(.*)$/m.exec(headerOf(subject))?.[1] ?? ''
    assert.match(ar('unsigned-inbound'), /spf=(none|temperror|permerror|neutral) smtp\.mailfrom=elsewhere\.test/)
    assert.match(ar('unsigned-inbound'), /dkim=none/)
    assert.match(ar('signed-inbound'), /dkim=(tempfail|temperror|permerror|fail|invalid)[^;]* header\.d=elsewhere\.test header\.s=sel/)
    assert.match(ar('bounce-inbound'), /spf=\w+ smtp\.helo=mx\.elsewhere\.test/)

    // A member's own mail on the submission port is not looked up.
    await smtpClient(town.ports.submission, bob).sendMail({ from: bob.address, to: bob.address, subject: 'from-a-member', text: 'hi' })
    assert.doesNotMatch(headerOf('from-a-member'), /spf=|dkim=/)
  })
})
