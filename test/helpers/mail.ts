// Sending and looking at mail in tests: a real SMTP client (nodemailer) and
// the recipient's Maildir on disk.
import nodemailer from 'nodemailer'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface SmtpAccount {
  address: string
  password: string
}

export function smtpClient(port: number, who: SmtpAccount, opts: { pool?: boolean } = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: who.address, pass: who.password },
    pool: opts.pool ?? false,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  })
}

export function maildirFiles(data: string, address: string): string[] {
  const [local, domain] = address.split('@') as [string, string]
  const base = join(data, 'mail', domain, local, 'Maildir')
  const out: string[] = []
  for (const sub of ['new', 'cur']) {
    try {
      for (const f of readdirSync(join(base, sub))) out.push(join(base, sub, f))
    } catch {
      /* not created yet */
    }
  }
  return out
}

/** How many stored messages carry each Message-ID. */
export function messageIdCounts(data: string, address: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const f of maildirFiles(data, address)) {
    const head = readFileSync(f, 'latin1').split(/\r?\n\r?\n/, 1)[0] ?? ''
    const m = /^message-id:\s*(<[^>]+>)/im.exec(head)
    if (m?.[1]) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1)
  }
  return counts
}
