// A hosted Haraka whose port another program took after the node checked it:
// the start fails with the port named, and the listeners it had already
// opened are closed again (in its own test process: Haraka can be hosted
// only once per process).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { startNode } from '../../helpers/node.js'
import { nodePaths } from '../../../server/base/paths.js'
import { loadConfig } from '../../../server/config/file.js'
import { appRoot } from '../../../server/base/app-root.js'
import { renderHarakaConfig, writeHarakaConfig } from '../../../server/haraka/process.js'
import { hostHaraka } from '../../../server/haraka/host.js'

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

test('a taken smtps port fails the hosted start, naming the port, and leaves the submission port free', { timeout: 60_000 }, async () => {
  const node = await startNode({ start: false })
  const squatter = createServer()
  try {
    const paths = nodePaths(node.data)
    const { config } = loadConfig(paths.config, {})
    writeHarakaConfig(paths, renderHarakaConfig({ config, paths, pluginDir: join(appRoot(), 'dist/haraka-plugins') }))
    // smtp.ini lists submission first, so Haraka has opened it when it reaches smtps.
    await new Promise<void>((r) => squatter.listen(config.ports.smtps, '127.0.0.1', () => r()))
    await assert.rejects(
      hostHaraka({ harakaDir: paths.harakaDir, logFile: join(paths.log, 'haraka.out.log'), log: () => undefined, onFatal: () => undefined }),
      (err: Error) => err.name === 'HarakaHostError' && err.message.includes(`EADDRINUSE`) && err.message.includes(`:${config.ports.smtps}`),
    )
    assert.equal(await canListen(config.ports.submission), true, 'the submission listener was closed again')
  } finally {
    // Should a listener have stayed open, the assertion above fails; closing it here lets that failure end the test instead of hanging it.
    ;(createRequire(import.meta.url)('Haraka/server') as { stopListeners(): void }).stopListeners()
    squatter.close()
    await node.destroy()
  }
})
