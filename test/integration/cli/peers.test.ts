// Two nodes meet: the card of one is added to the other with the real
// `outpost` command, and routes are set and listed as a person would.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../../helpers/node.js'

async function init(dir: string, domain: string, host: string): Promise<void> {
  const r = await runCli(['init', '--data', dir, '--domain', domain, '--host', host, '--web-port', '9443'])
  assert.equal(r.code, 0, r.stderr)
}

test('card, peer add/list/remove and route add/list/remove between two initialised nodes', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'op-peers-cli-'))
  const river = join(tmp, 'river')
  const camp = join(tmp, 'camp')
  try {
    await init(river, 'river.test', '10.42.0.2')
    await init(camp, 'camp.test', '10.42.0.1')
    assert.equal(statSync(join(river, 'keys')).mode & 0o777, 0o700)
    assert.equal(statSync(join(river, 'keys', 'sign.pem')).mode & 0o777, 0o600)

    const text = await runCli(['card', '--text', '--data', river])
    assert.equal(text.code, 0, text.stderr)
    const card = text.stdout.trim()
    assert.match(card, /^outpost-card:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    const full = await runCli(['card', '--data', river])
    assert.equal(full.code, 0, full.stderr)
    assert.match(full.stdout, /[▀▄█]/)
    assert.ok(full.stdout.includes(card))
    assert.match(full.stdout, /^node\s+river$/m)
    assert.match(full.stdout, /^domains\s+river\.test$/m)
    assert.match(full.stdout, /^reach\s+https:\/\/10\.42\.0\.2:9443$/m)
    const fingerprint = /^signing\s+(SHA256:\S+)$/m.exec(full.stdout)?.[1]
    assert.ok(fingerprint, full.stdout)

    // --data in any position, and the card as the line itself.
    const add = await runCli(['peer', '--data', camp, 'add', card])
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout, /Added peer river: river\.test/)
    // The same card again, this time from a file holding the saved `outpost card` output.
    const file = join(tmp, 'river.card')
    writeFileSync(file, full.stdout)
    const again = await runCli(['peer', 'add', file, '--data', camp])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, /unchanged/)

    const list = await runCli(['peer', 'list', '--data', camp])
    assert.equal(list.code, 0, list.stderr)
    assert.deepEqual(list.stdout.trim().split('\n').map((l) => l.split('\t')), [['river', 'river.test', fingerprint, 'https://10.42.0.2:9443']])

    let r = await runCli(['route', 'add', 'far.test', 'river', '--data', camp])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Mail for far\.test now goes to peer river/)
    r = await runCli(['route', 'add', '*', 'river', '--data', camp])
    assert.equal(r.code, 0, r.stderr)
    r = await runCli(['route', 'list', '--data', camp])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), ['far.test\triver\troute', 'river.test\triver\tcard', '*\triver\tdefault'])
    r = await runCli(['route', 'remove', 'far.test', '--data', camp])
    assert.equal(r.code, 0, r.stderr)
    r = await runCli(['route', 'list', '--data', camp])
    assert.deepEqual(r.stdout.trim().split('\n'), ['river.test\triver\tcard', '*\triver\tdefault'])

    // Refusals, each with what to do.
    r = await runCli(['peer', 'add', (await runCli(['card', '--text', '--data', camp])).stdout.trim(), '--data', camp])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /own card/)
    const tampered = card.replace(/\.(.)/, (_m, c: string) => `.${c === 'A' ? 'B' : 'A'}`)
    r = await runCli(['peer', 'add', tampered, '--data', camp])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /bad signature/)
    r = await runCli(['peer', 'add', 'hello', '--data', camp])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /neither a card .* nor a file/)
    r = await runCli(['route', 'add', 'camp.test', 'river', '--data', camp])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /own domain/)
    r = await runCli(['route', 'add', 'x.test', 'nobody', '--data', camp])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no peer named "nobody"; known peers: river/)
    r = await runCli(['route', 'remove', 'river.test', '--data', camp])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /card claims it/)
    r = await runCli(['route', 'add', 'x.test', '--data', camp])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /route add needs DOMAIN PEER/)
    r = await runCli(['peer', 'frobnicate', '--data', camp])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /unknown peer command/)

    // River is reinstalled: same name, new keys. Refused until --replace.
    rmSync(river, { recursive: true, force: true })
    await init(river, 'river.test', '10.42.0.2')
    const newCard = (await runCli(['card', '--text', '--data', river])).stdout.trim()
    r = await runCli(['peer', 'add', newCard, '--data', camp])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /already known with another signing key.*--replace/)
    r = await runCli(['peer', 'add', newCard, '--replace', '--data', camp])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Replaced the key of peer river/)

    r = await runCli(['peer', 'remove', 'river', '--data', camp])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Removed peer river and its routes for \*/)
    r = await runCli(['route', 'list', '--data', camp])
    assert.equal(r.code, 0)
    assert.equal(r.stdout.trim(), '')
    r = await runCli(['peer', 'list', '--data', camp])
    assert.equal(r.stdout.trim(), '')
    assert.match(r.stderr, /no peers yet/)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

test('a node initialised before nodes had keys gets them on first use', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'op-peers-cli-'))
  try {
    await init(tmp, 'camp.test', '10.42.0.1')
    rmSync(join(tmp, 'keys'), { recursive: true, force: true })
    const r = await runCli(['card', '--text', '--data', tmp])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^outpost-card:/)
    assert.equal(statSync(join(tmp, 'keys')).mode & 0o777, 0o700)
    const again = await runCli(['card', '--text', '--data', tmp])
    assert.equal(again.stdout, r.stdout)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})
