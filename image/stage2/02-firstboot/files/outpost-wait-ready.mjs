// Waits until the node answers GET /api/health on its web port, then leaves
// /run/outpost-ready, which the appliance daemon turns into the LED's
// "ready" heartbeat (it shows "booting" until then). Run by
// outpost-ready.service after every start of the node; /run is empty at boot.
import { readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'

const READY = '/run/outpost-ready'
// [ports] web in outpost.toml (443 unless the owner changed it).
const toml = readFileSync('/var/lib/outpost/outpost.toml', 'utf8')
const port = Number(/^\s*web\s*=\s*(\d+)/m.exec(toml)?.[1] ?? 443)

const answers = () =>
  new Promise((resolve) => {
    // The node's own self-signed certificate: only whether it answers matters here.
    const req = request({ host: '127.0.0.1', port, path: '/api/health', rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })

while (!(await answers())) await new Promise((r) => setTimeout(r, 2000))
writeFileSync(READY, `${new Date().toISOString()}\n`)
console.log(`the node answers on port ${port}: ${READY}`)
