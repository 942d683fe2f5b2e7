import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { armorBody, crc24, nextArmorBody } from '../../../../server/bundle/narrow/armor.js'
import { decodeNarrow, encodeNarrow, narrowRecords } from '../../../../server/bundle/narrow/codec.js'
import { deltaChatSamples } from '../../../helpers/deltachat-samples.js'

const noKeys = () => undefined

/** An armored message as some OpenPGP implementation might write it. */
function armored(binary: Buffer, o: { eol?: string; lineLength?: number; crc?: boolean; headers?: string[] } = {}): string {
  const eol = o.eol ?? '\r\n'
  const b64 = binary.toString('base64')
  const lines = b64.match(new RegExp(`.{1,${o.lineLength ?? 64}}`, 'g'))!
  const c = crc24(binary)
  return ['-----BEGIN PGP MESSAGE-----', ...(o.headers ?? []), '', ...lines, ...(o.crc === false ? [] : ['=' + Buffer.from([c >> 16, (c >> 8) & 0xff, c & 0xff]).toString('base64')]), '-----END PGP MESSAGE-----', ''].join(eol)
}

/** Encodes and decodes; the bytes must come back identical. */
function roundTrip(text: string | Buffer): { back: Buffer; binaryRecords: number } {
  const plain = Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1')
  const records = narrowRecords(plain, () => false).bytes
  const back = decodeNarrow(encodeNarrow(plain).bytes, noKeys, 1 << 20).plain
  assert.ok(back.equals(plain), 'the payload must come back byte for byte')
  // How many armored bodies went as binary.
  let binaryRecords = 0
  for (let b = nextArmorBody(plain.toString('latin1'), 0); b; b = nextArmorBody(plain.toString('latin1'), b.end)) binaryRecords++
  assert.ok(records.length > 0)
  return { back, binaryRecords }
}

test('CRC-24 is the one of RFC 4880 (its initial value for no data, and a known vector)', () => {
  assert.equal(crc24(Buffer.alloc(0)), 0xb704ce)
  // The check value of CRC-24/OPENPGP in the CRC catalogue.
  assert.equal(crc24(Buffer.from('123456789')), 0x21cf02)
})

test('the armor of every real Delta Chat sample goes as binary and comes back byte for byte', () => {
  for (const s of deltaChatSamples()) {
    const text = s.data.toString('latin1')
    const body = nextArmorBody(text, 0)
    assert.ok(body, `${s.name}: its armor should be taken apart`)
    assert.equal(body.shape.crlf, true)
    assert.equal(body.shape.crc, true)
    assert.equal(armorBody(body.binary, body.shape), text.slice(body.start, body.end))
    // A third smaller: 4 base64 characters (and line endings) for 3 bytes.
    assert.ok(body.binary.length < (body.end - body.start) * 0.76, `${s.name}: ${body.binary.length} of ${body.end - body.start}`)
    roundTrip(s.data)
  }
})

test('LF line endings, CRLF line endings, 76-character lines and no CRC line all rebuild exactly', () => {
  const bin = randomBytes(700)
  for (const o of [{ eol: '\n' }, { eol: '\r\n' }, { lineLength: 76 }, { crc: false }, { eol: '\n', crc: false, lineLength: 76 }]) {
    const text = `Content-Type: application/octet-stream\r\n\r\n${armored(bin, o)}`
    const body = nextArmorBody(text, 0)
    assert.ok(body, JSON.stringify(o))
    assert.equal(body.shape.crlf, (o.eol ?? '\r\n') === '\r\n')
    assert.equal(body.shape.crc, o.crc !== false)
    assert.equal(body.shape.lineLength, o.lineLength ?? 64)
    assert.ok(body.binary.equals(bin))
    assert.equal(roundTrip(text).binaryRecords, 1)
  }
})

test('"Version:" and "Comment:" headers stay text as written, and the body still goes as binary', () => {
  const text = armored(randomBytes(300), { headers: ['Version: GnuPG v2', 'Comment: https://gnupg.org'] })
  const body = nextArmorBody(text, 0)
  assert.ok(body)
  assert.ok(text.slice(0, body.start).endsWith('Comment: https://gnupg.org\r\n\r\n'))
  roundTrip(text)
})

test('armor that cannot be rebuilt exactly is sent unchanged, and still comes back byte for byte', () => {
  const good = armored(randomBytes(400))
  const cases: Record<string, string> = {
    'truncated (no END line)': good.slice(0, good.indexOf('-----END')),
    'cut mid-line': good.slice(0, 200),
    'a wrong CRC': good.replace(/\r\n=[A-Za-z0-9+/]{4}\r\n/, '\r\n=AAAA\r\n'),
    'mixed line endings': good.replace('\r\n', '\n'),
    'uneven line lengths': good.replace(/\r\n([A-Za-z0-9+/]{64})\r\n/, (_m, l: string) => `\r\n${l.slice(0, 60)}\r\n${l.slice(60)}`),
    'non-canonical base64 padding bits': armored(Buffer.from([0xff])).replace('/w==', '/x=='),
    'a blank line missing after BEGIN': good.replace('-----\r\n\r\n', '-----\r\n'),
    'a space at a line end': good.replace(/\r\n([A-Za-z0-9+/]{64})\r\n/, (_m, l: string) => `\r\n${l} \r\n`),
  }
  for (const [what, text] of Object.entries(cases)) {
    assert.equal(nextArmorBody(text, 0), undefined, what)
    const { back } = roundTrip(text)
    assert.equal(back.toString('latin1'), text, what)
  }
})

test('two armors in one payload, one broken, one whole: the whole one goes as binary, the broken one as text', () => {
  const broken = armored(randomBytes(100)).replace(/=[A-Za-z0-9+/]{4}\r\n-----END/, '=AAAA\r\n-----END')
  const text = `${broken}between\r\n${armored(randomBytes(200), { eol: '\r\n' })}`
  assert.equal(roundTrip(text).binaryRecords, 1)
})
