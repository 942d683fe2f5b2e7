// The off-grid node's link to its gateway, as a switch: a TCP forwarder on a
// port of its own that the off-grid node is told is the gateway's address.
// down() closes the port and cuts every open connection, so a connect is
// refused as it would be with no route to the gateway; up() opens it again.
import { createServer, connect, type Server, type Socket } from 'node:net'

export class UplinkSwitch {
  private server: Server | undefined
  private sockets = new Set<Socket>()

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  get isUp(): boolean {
    return this.server !== undefined
  }

  async up(): Promise<void> {
    if (this.server) return
    const server = createServer((client) => {
      const upstream = connect(this.target)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => undefined)
      }
      client.pipe(upstream)
      upstream.pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host: '127.0.0.1', port: this.port }, () => resolve())
    })
    this.server = server
  }

  async down(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
