// A relay that is not what it should be, for the gateway's smarthost tests:
// one that offers AUTH but no STARTTLS (a downgrade by whoever sits on the
// path), or one that offers STARTTLS with a certificate nobody vouches for
// (someone answering in the relay's place). It records every command it
// reads, so a test can say that no password and no message reached it.
import { createServer, type Server, type Socket } from 'node:net'
import { TLSSocket } from 'node:tls'

export interface FakeRelay {
  port: number
  /** Every command line read, in order; those read inside TLS are prefixed "tls:". */
  lines: string[]
  /** Connections made to it so far. */
  connections: number
  close(): Promise<void>
}

export async function startFakeRelay(o: { port: number; starttls?: { key: Buffer; cert: Buffer } }): Promise<FakeRelay> {
  const relay: FakeRelay = { port: o.port, lines: [], connections: 0, close: async () => undefined }
  const sockets = new Set<Socket>()

  const converse = (sock: Socket, inTls: boolean): void => {
    let buf = ''
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1')
      let i: number
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 2)
        relay.lines.push(inTls ? `tls:${line}` : line)
        const verb = line.split(' ')[0]!.toUpperCase()
        if (verb === 'EHLO') {
          const offers = ['250-relay.invalid', '250-AUTH PLAIN LOGIN', ...(o.starttls && !inTls ? ['250-STARTTLS'] : []), '250 8BITMIME']
          sock.write(offers.join('\r\n') + '\r\n')
        } else if (verb === 'STARTTLS' && o.starttls && !inTls) {
          sock.off('data', onData)
          sock.write('220 go ahead\r\n', () => {
            const tls = new TLSSocket(sock, { isServer: true, key: o.starttls!.key, cert: o.starttls!.cert })
            tls.on('error', () => undefined)
            converse(tls, true)
          })
          return
        } else if (verb === 'QUIT') {
          sock.end('221 bye\r\n')
        } else {
          // Whatever else comes (it should not), it is "accepted" and recorded.
          sock.write(verb === 'DATA' ? '354 go on\r\n' : '250 ok\r\n')
        }
      }
    }
    sock.on('data', onData)
  }

  const server: Server = createServer((sock) => {
    relay.connections++
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => undefined)
    sock.write('220 relay.invalid ESMTP\r\n')
    converse(sock, false)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: o.port }, () => resolve())
  })
  relay.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return relay
}
