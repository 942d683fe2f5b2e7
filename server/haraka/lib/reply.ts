// SMTP replies with a code of our choosing. Haraka answers each DENY/DENYSOFT
// with a fixed code per hook (550/450 at MAIL, ...), unless the message is an
// object whose constructor is named "DSN" (connection.js respond(), which
// haraka-dsn's class satisfies): then it uses that object's code and reply.
// Bundling may rename classes, so the name is set explicitly.
export class SmtpReply {
  constructor(
    readonly code: number,
    readonly reply: string,
  ) {}

  toString(): string {
    return `${this.code} ${this.reply}`
  }
}
Object.defineProperty(SmtpReply, 'name', { value: 'DSN' })

/** A reply such as `smtpReply(530, '5.7.0', 'Authentication required')`. */
export function smtpReply(code: number, enhanced: string, text: string): SmtpReply {
  return new SmtpReply(code, `${enhanced} ${text.replace(/[\r\n]+/g, ' ')}`)
}
