// Service-layer probes of the node's parts, decorated onto the app so that
// routes (and later the dashboard) ask one place.
import fp from 'fastify-plugin'
import { connect } from 'node:net'
import { statfs } from 'node:fs/promises'
import type { Db } from '../../db/index.js'

export interface ProbeResult {
  ok: boolean
  detail: string
}

export interface HealthProbes {
  smtp(): Promise<ProbeResult>
  imap(): Promise<ProbeResult>
  db(): Promise<ProbeResult>
  disk(): Promise<ProbeResult & { freeBytes: number; totalBytes: number }>
}

declare module 'fastify' {
  interface FastifyInstance {
    health: HealthProbes
  }
}

/** Connects and reads the greeting; a daemon that accepts but does not greet is not up. */
export function probeGreeting(host: string, port: number, expect: RegExp, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = connect({ host, port })
    let buf = ''
    const done = (r: ProbeResult) => {
      clearTimeout(timer)
      sock.destroy()
      resolve(r)
    }
    const timer = setTimeout(() => done({ ok: false, detail: `no greeting from ${host}:${port} within ${timeoutMs} ms` }), timeoutMs)
    sock.on('data', (d) => {
      buf += d.toString('latin1')
      if (buf.includes('\n')) done(expect.test(buf) ? { ok: true, detail: `${host}:${port} answers` } : { ok: false, detail: `unexpected greeting: ${buf.trim().slice(0, 80)}` })
    })
    sock.on('error', (err) => done({ ok: false, detail: `${host}:${port}: ${err.message}` }))
  })
}

export interface ProbeOptions {
  host: string
  smtpPort: number
  imapPort: number
  db: Db
  dataDir: string
  minFreeBytes?: number
}

export default fp<ProbeOptions>(
  async (app, opts) => {
    const host = opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host === '::' ? '::1' : opts.host
    const minFree = opts.minFreeBytes ?? 100 * 1024 * 1024
    app.decorate('health', {
      smtp: () => probeGreeting(host, opts.smtpPort, /^220 /),
      imap: () => probeGreeting(host, opts.imapPort, /^\* OK/),
      db: async () => {
        try {
          opts.db.$client.prepare('select 1').get()
          return { ok: true, detail: 'database answers' }
        } catch (err) {
          return { ok: false, detail: `database: ${(err as Error).message}` }
        }
      },
      disk: async () => {
        const s = await statfs(opts.dataDir)
        const free = s.bavail * s.bsize
        const total = s.blocks * s.bsize
        return { ok: free >= minFree, detail: `${Math.round(free / 2 ** 20)} MiB free`, freeBytes: free, totalBytes: total }
      },
    })
  },
  { name: 'health-probes' },
)
