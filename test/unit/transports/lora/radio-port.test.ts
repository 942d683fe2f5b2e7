// The serial seam on a real pseudo-terminal: socat makes one and carries its
// other end on stdio, as the radio simulator does. The same driver opens a
// radio's /dev/ttyACM0.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openSerialRadio } from '../../../../server/transports/lora/radio-port.js'
import { kissEncode, KissDecoder } from '../../../../server/transports/lora/kiss.js'
import { waitFor } from '../../../helpers/wait.js'

test('a KISS frame written to the port comes out of the pty whole, and one written back is read', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'op-pty-'))
  const tty = join(dir, 'radio')
  const socat = spawn('socat', [`PTY,link=${tty},raw,echo=0`, 'STDIO'], { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    await waitFor('the pty', async () => existsSync(tty))
    const port = await openSerialRadio(tty, 115200)
    const fromPort = new KissDecoder()
    const seen: Buffer[] = []
    socat.stdout.on('data', (c: Buffer) => seen.push(...fromPort.push(c).map((f) => f.data)))
    const heard: Buffer[] = []
    const fromRadio = new KissDecoder()
    port.onData((c) => heard.push(...fromRadio.push(c).map((f) => f.data)))
    const out = Buffer.from([0xc0, 1, 2, 0xdb, 255])
    await port.write(kissEncode(out))
    await waitFor('the frame at the far end', async () => seen.length > 0)
    assert.deepEqual(seen, [out])
    socat.stdin.write(kissEncode(Buffer.from('back')))
    await waitFor('the frame read from the port', async () => heard.length > 0)
    assert.deepEqual(heard, [Buffer.from('back')])
    await port.close()
  } finally {
    socat.kill()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a port that does not exist is refused with what to check', async () => {
  await assert.rejects(openSerialRadio('/dev/outpost-no-such-radio', 115200), /cannot open the radio at \/dev\/outpost-no-such-radio: .*dialout/)
})
