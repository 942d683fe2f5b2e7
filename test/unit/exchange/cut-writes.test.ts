// A stick pulled in the middle of an export leaves the bundle being written
// under its tmp name. No importer counts it, and the next offload of that
// stick in the box's port removes it; a shared folder's are left alone,
// since another writer may be in the middle of them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stableMessageId } from '../../../server/bundle/message-id.js'
import { twoPeeredNodes } from '../../helpers/exchange-pair.js'

test('an offload to a stick removes the bundle writes a pull cut short; a folder export leaves them', async () => {
  const { dir, cx, close } = await twoPeeredNodes('op-cut-')
  const stick = join(dir, 'stick')
  const folder = join(stick, 'outpost', 'town')
  mkdirSync(folder, { recursive: true })
  try {
    const data = Buffer.from('From: alice@camp.test\r\nTo: bob@town.test\r\nMessage-ID: <cut@camp.test>\r\nSubject: hi\r\n\r\nhello\r\n')
    cx.outbox.enqueue({ messageId: stableMessageId(data, 'alice@camp.test'), sender: 'alice@camp.test', data, byPeer: new Map([['town', ['bob@town.test']]]), hops: 0 })
    // What a pull leaves: half a bundle under writeFileDurable's tmp name.
    const cut = '.20261207T100000Z-0123456789abcdef0123456789abcdef.obundle.4242.0a1b2c3d.tmp'
    writeFileSync(join(folder, cut), 'half a bundle')
    // Another program's write in progress, in a folder a sync tool shares.
    const theirs = '.syncthing.20261207T100000Z-x.obundle.tmp'
    writeFileSync(join(folder, theirs), 'a sync tool at work')

    const [byFolder] = await cx.exportTo(stick)
    assert.equal(byFolder?.swept, undefined)
    assert.ok(readdirSync(folder).includes(cut), 'a folder export removes nothing it did not write in this run')

    const [byUsb] = await cx.exportTo(stick, undefined, { via: 'usb' })
    assert.equal(byUsb?.swept, 1)
    assert.equal(byUsb?.messages, 1, 'and the message still waiting goes out again')
    const left = readdirSync(folder)
    assert.ok(!left.includes(cut), `the cut write is gone: ${left.join(' ')}`)
    assert.ok(left.includes(theirs), 'a name not of our own writes is left alone')
    assert.equal(left.filter((n) => n.endsWith('.obundle') && !n.startsWith('.')).length, 2, 'the two finished bundles stay')
  } finally {
    await close()
  }
})
