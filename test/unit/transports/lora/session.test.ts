// What a node's radio does with a compact carriage form that does not
// expand (cut short or damaged by a faulty or hostile sender, past the
// link's own checks): it is refused with the compact form's own reason and
// kept in quarantine like a damaged bundle, the sender hears that it was
// taken (so it does not send it for ever), and the link goes on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { opsNode } from '../../../helpers/ops-admin.js'
import { radioPair } from '../../../helpers/radio-sim.js'
import { seededRandom } from '../../../helpers/seeded-random.js'
import { LoraSession } from '../../../../server/transports/lora/session.js'
import { RadioLink } from '../../../../server/transports/lora/link.js'
import { AirtimeBudget } from '../../../../server/transports/lora/duty-cycle.js'
import { Reassembly } from '../../../../server/transports/lora/reassembly.js'
import { ACK_DONE } from '../../../../server/transports/lora/frames.js'

test('a compact form that does not expand is quarantined with its reason, answered as taken, and the radio goes on', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-session-'))
  const town = await opsNode(join(dir, 'town'), 'town.test')
  const modulation = { sf: 7, bw: 500000, cr: 5, preamble: 8 }
  const { ports, channel } = radioPair({ modulation, payload: 222, seed: 3 })
  const lines: string[] = []
  const session = await LoraSession.open({
    node: town.node, exchange: town.services.exchange, peer: 'camp', inDir: join(dir, 'in'), log: (l) => lines.push(l),
    settings: { port: '/dev/sim-town', baud: 115200, firmware: 'kiss', frequency: 869_525_000, txpower: 14, modulation, payload: 222, duty: 1, window: 8, maxBundleBytes: 1 << 20 },
    open: async () => ports[1],
  })
  const camp = new RadioLink({ port: ports[0], self: 'camp', peer: town.node.config.node.name, payload: 222, modulation, budget: new AirtimeBudget(undefined, 1), store: new Reassembly(join(dir, 'camp-in'), 1 << 20), deliver: async () => ACK_DONE, random: seededRandom(4), takesCompact: true })
  try {
    // Version 1, flags 0, then a form cut short inside its id.
    const damaged = Buffer.from([1, 0, 0xde, 0xad, 0xbe, 0xef])
    assert.equal(await camp.send(damaged), 'done')
    const q = join(town.node.paths.quarantine)
    const reasons = readdirSync(q).filter((n) => n.endsWith('.reason.txt'))
    assert.equal(reasons.length, 1, readdirSync(q).join(', '))
    assert.match(readFileSync(join(q, reasons[0]!), 'utf8'), /corrupt: from camp by radio: the compact bundle is damaged: it ends inside its id/)
    assert.ok(lines.some((l) => /compact bundle is damaged/.test(l)), lines.join('\n'))
    // The link still carries the next transfer, and town learnt that camp takes compact forms.
    assert.equal(session.link.peerTakesCompact, true)
    assert.equal(await camp.send(Buffer.from('OUTPOST-BUNDLE 1\nnot really')), 'done')
    assert.equal(readdirSync(q).filter((n) => n.endsWith('.reason.txt')).length, 2)
  } finally {
    await session.close()
    channel.close()
    await town.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
