// Haraka inside `outpost start` ([smtp] haraka = "in-process"): mail flows as
// with a child Haraka (STARTTLS, AUTH, delivery to Dovecot, no relaying), no
// Haraka process exists, its log goes where a child's goes, and stopping it
// frees the SMTP ports and ends open sessions without ending the process
// that hosts it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { accepts } from '../../helpers/ports.js'
import { join } from 'node:path'
import { startNode } from '../../helpers/node.js'
import { maildirFiles, smtpClient } from '../../helpers/mail.js'
import { SmtpDialogue } from '../../helpers/smtp-dialogue.js'
import { cmdline, processTree, waitAllGone } from '../../helpers/procs.js'
import { nodePaths } from '../../../server/base/paths.js'
import { loadConfig } from '../../../server/config/file.js'
import { appRoot } from '../../../server/base/app-root.js'
import { renderHarakaConfig, writeHarakaConfig } from '../../../server/haraka/process.js'
import { hostHaraka } from '../../../server/haraka/host.js'

test('a node with Haraka in its process takes mail over STARTTLS + AUTH into Dovecot, refuses relaying, and stops cleanly', { timeout: 180_000 }, async () => {
  const node = await startNode({ env: { OUTPOST_SMTP_HARAKA: 'in-process' } })
  try {
    assert.match(node.output(), /haraka: runs inside this process/)
    const tree = processTree(node.pid()!)
    assert.deepEqual(tree.filter((p) => /(^|\/)bin\/haraka\b/.test(cmdline(p))).map(cmdline), [], 'no Haraka process of its own')

    const alice = await node.addAccount('alice')
    const bob = await node.addAccount('bob')
    const client = smtpClient(node.ports.submission, alice)
    try {
      const subject = `in-process ${Date.now()}`
      const info = await client.sendMail({ from: alice.address, to: bob.address, subject, text: 'hello from the same process' })
      assert.match(info.response, /^250 /)
      // 250 means stored: the message is in bob's Maildir when the client hears it.
      const stored = maildirFiles(node.data, bob.address).map((f) => readFileSync(f, 'utf8'))
      assert.equal(stored.filter((m) => m.includes(`Subject: ${subject}`)).length, 1)

      const relay = await client.sendMail({ from: alice.address, to: 'someone@elsewhere.example', subject: 'relay?', text: 'no' }).then(
        () => undefined,
        (err: { responseCode?: number; response?: string }) => err,
      )
      assert.equal(relay?.responseCode, 554, `relaying is refused: ${relay?.response}`)
      assert.match(relay?.response ?? '', /5\.7\.1 relaying to elsewhere\.example/)
    } finally {
      client.close()
    }

    // Haraka's lines are in its log file, as with a child Haraka.
    const harakaLog = readFileSync(join(nodePaths(node.data).log, 'haraka.out.log'), 'utf8')
    assert.match(harakaLog, /\[server\] Listening on 127\.0\.0\.1:\d+/)
    assert.match(harakaLog, /recipient <someone@elsewhere\.example> code=DENY/)
    assert.equal(existsSync(join(nodePaths(node.data).run, 'haraka.pid')), false, "no Haraka pid file: the pid would be the node's")

    // SIGTERM with a session open: the node stops in order and leaves nothing behind.
    const { smtp, greeting } = await SmtpDialogue.open(node.ports.submission)
    assert.equal(greeting.code, 220)
    assert.equal((await smtp.cmd('EHLO phone.localhost')).code, 250)
    const pids = processTree(node.pid()!)
    await node.stop()
    assert.match(node.output(), /stopping \(SIGTERM\)[\s\S]*stopped/)
    assert.deepEqual(await waitAllGone(pids), [], 'no process left after SIGTERM')
    await assert.rejects(smtp.reply(5000), /connection closed/, 'the open session was ended')
    assert.equal(await accepts(node.ports.submission), false)
    assert.equal(await accepts(node.ports.smtps), false)
  } finally {
    await node.destroy()
  }
})

test('stopping a hosted Haraka frees its ports and ends its sessions, and leaves the host process running', { timeout: 120_000 }, async () => {
  // An initialised node for its config, certificate and database; nothing of it runs.
  const node = await startNode({ start: false })
  try {
    const paths = nodePaths(node.data)
    const { config } = loadConfig(paths.config, {})
    writeHarakaConfig(paths, renderHarakaConfig({ config, paths, pluginDir: join(appRoot(), 'dist/haraka-plugins') }))
    const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit', 'uncaughtException'] as const
    const listenersBefore = events.map((e) => process.listenerCount(e))
    const fatal: string[] = []
    const lines: string[] = []
    const haraka = await hostHaraka({ harakaDir: paths.harakaDir, logFile: join(paths.log, 'haraka.out.log'), log: (l) => lines.push(l), onFatal: (why) => fatal.push(why) })

    assert.deepEqual(events.map((e) => process.listenerCount(e)), listenersBefore, 'Haraka added no signal, exit or exception handler to the process')
    assert.equal(await accepts(config.ports.submission), true)
    assert.equal(await accepts(config.ports.smtps), true)
    const { smtp, greeting } = await SmtpDialogue.open(config.ports.submission)
    assert.equal(greeting.code, 220)
    assert.match((await smtp.cmd('EHLO phone.localhost')).text, /STARTTLS/)

    await haraka.stop()
    assert.equal(await accepts(config.ports.submission), false, 'the submission port is closed')
    assert.equal(await accepts(config.ports.smtps), false, 'the smtps port is closed')
    await assert.rejects(smtp.reply(5000), /connection closed/, 'the open session was ended')
    assert.deepEqual(fatal, [])
    assert.match(readFileSync(join(paths.log, 'haraka.out.log'), 'utf8'), /\[server\] Shutting down listeners/)

    // Haraka's modules are the process's: a second one here is refused, not half started.
    await assert.rejects(hostHaraka({ harakaDir: paths.harakaDir, logFile: join(paths.log, 'haraka.out.log'), log: () => undefined, onFatal: () => undefined }), /already hosted in this process/)
  } finally {
    await node.destroy()
  }
})
