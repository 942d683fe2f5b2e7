import { connect, createServer } from 'node:net'
import { randomInt } from 'node:crypto'

// Ports handed out by this test process: a node's five ports are asked for
// one by one, so a port is never handed out twice by one process.
const handedOut = new Set<number>()

// Chosen below the kernel's ephemeral range (32768 and up by default). A
// port the kernel gives to listen(0) comes from that range, and so do the
// local ports of every outgoing connection on loopback (Haraka to Dovecot,
// a client to a node): between being handed out and being listened on, such
// a port could be taken by a connection, and the node would fail to start.
const LOW = 20_000
const HIGH = 32_000

/** A random port in the tests' range that `handedOut` does not hold yet; it is added there. */
export function freshPort(handedOut: Set<number>): number {
  for (;;) {
    const port = randomInt(LOW, HIGH)
    if (handedOut.has(port)) continue
    handedOut.add(port)
    return port
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen({ host: '127.0.0.1', port, exclusive: true }, () => srv.close(() => resolve(true)))
  })
}

/** A TCP port on 127.0.0.1 that nothing listens on right now, and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = freshPort(handedOut)
    if (await isFree(port)) return port
  }
  throw new Error(`no free port between ${LOW} and ${HIGH} after 200 tries`)
}

/** Whether something accepts a TCP connection on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
