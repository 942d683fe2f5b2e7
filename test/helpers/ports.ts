import { createServer } from 'node:net'

// Ports handed out by this test process. The kernel may give the same free
// port to two listen(0) calls in a row once the first is closed, so a node
// whose five ports are asked for one by one could get one twice; a port is
// never handed out twice by one process.
const handedOut = new Set<number>()

function askKernel(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** A TCP port on 127.0.0.1 that nothing listens on right now, and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = await askKernel()
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error('no fresh free port after 100 tries')
}
