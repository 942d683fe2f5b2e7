// A raw SMTP dialogue over plain TCP, for tests that must see the reply
// code of each command (what a stranger on the Internet would be told).
import { connect, type Socket } from 'node:net'

export interface Reply {
  code: number
  text: string
}

export class SmtpDialogue {
  private buf = ''
  private wake: (() => void) | undefined
  private closed = false

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8')
    sock.on('data', (d: string) => {
      this.buf += d
      this.wake?.()
    })
    sock.on('close', () => {
      this.closed = true
      this.wake?.()
    })
    sock.on('error', () => undefined)
  }

  static async open(port: number, host = '127.0.0.1'): Promise<{ smtp: SmtpDialogue; greeting: Reply }> {
    const sock = connect({ host, port })
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve())
      sock.once('error', reject)
    })
    const smtp = new SmtpDialogue(sock)
    return { smtp, greeting: await smtp.reply() }
  }

  /** The next complete (possibly multi-line) reply. */
  async reply(timeoutMs = 15_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const lines = this.buf.split('\r\n')
      for (let i = 0; i < lines.length - 1; i++) {
        if (/^\d{3} /.test(lines[i]!)) {
          const taken = lines.slice(0, i + 1)
          this.buf = lines.slice(i + 1).join('\r\n')
          return { code: Number(taken[i]!.slice(0, 3)), text: taken.map((l) => l.slice(4)).join('\n') }
        }
      }
      if (this.closed) throw new Error(`connection closed while waiting for a reply (have: ${JSON.stringify(this.buf)})`)
      if (Date.now() > deadline) throw new Error(`no SMTP reply within ${timeoutMs} ms (have: ${JSON.stringify(this.buf)})`)
      await new Promise<void>((resolve) => {
        this.wake = resolve
        setTimeout(resolve, 200)
      })
      this.wake = undefined
    }
  }

  async cmd(line: string): Promise<Reply> {
    this.sock.write(`${line}\r\n`)
    return this.reply()
  }

  /** DATA with a message (dot-stuffed here), returning the final reply. */
  async data(message: string): Promise<Reply> {
    const start = await this.cmd('DATA')
    if (start.code !== 354) return start
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')
    this.sock.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`)
    return this.reply(60_000)
  }

  close(): void {
    this.sock.end('QUIT\r\n')
    setTimeout(() => this.sock.destroy(), 500).unref()
  }
}
