// The parts of Haraka's objects (3.3) that our plugins touch, typed. Haraka
// has no type definitions; keeping the surface in one place means a Haraka
// upgrade is checked against one file.
import type { Writable } from 'node:stream'

/** A reply carrying its own SMTP code (see reply.ts), or plain text. */
export type HookMessage = string | string[] | { code: number; reply: string }

/** Haraka's hook callback: exactly one call per hook, with a code from haraka-constants. */
export type Next = (code?: number, msg?: HookMessage) => void

export interface HarakaAddress {
  /** user@host as sent, "" for the null sender. */
  readonly address: string
  readonly user: string | null
  readonly host: string | null
  format(): string
}

export interface MessageStream {
  pipe(destination: Writable, options?: { line_endings?: string; dot_stuffed?: boolean }): Writable
  /** Tears a pipe down synchronously (message-stream ≥ 1.3). */
  unpipe?(): void
}

export interface Transaction {
  readonly uuid: string
  mail_from: HarakaAddress
  rcpt_to: HarakaAddress[]
  readonly message_stream: MessageStream
  readonly header: { get_all(name: string): string[]; get(name: string): string }
  /** The header's lines as received (dot-stuffing removed, LF line ends), unparsed. */
  readonly header_lines: string[]
  readonly notes: Record<string, unknown>
  add_header(name: string, value: string): void
}

export interface Connection {
  readonly uuid: string
  readonly remote: { ip: string | null; port: number | null; closed: boolean }
  readonly local: { ip: string | null; port: number | null; host: string }
  readonly tls: { enabled: boolean }
  relaying: boolean
  readonly notes: Record<string, unknown> & { auth_user?: string }
  readonly transaction: Transaction | null
  /** What the client said in HELO/EHLO. */
  readonly hello?: { host: string | null }
  /** Adds one result to the Authentication-Results header Haraka writes into the message (RFC 8601). */
  auth_results(result?: string): string
  respond(code: number, msg: string | string[], cb?: () => void): void
  logdebug(...args: unknown[]): void
  loginfo(...args: unknown[]): void
  lognotice(...args: unknown[]): void
  logwarn(...args: unknown[]): void
  logerror(...args: unknown[]): void
  logcrit(...args: unknown[]): void
}

export interface HarakaConfig {
  get(name: string, cb?: () => void): unknown
  get(name: string, type: string, cb?: () => void): unknown
  get(name: string, opts: object, cb?: () => void): unknown
}

/** The plugin object Haraka builds from a folder plugin's exports (plugins.js). */
export interface HarakaPlugin {
  readonly name: string
  readonly config: HarakaConfig
  register_hook(hook: string, method: string, priority?: number): void
  inherits(parent: string): void
  logdebug(...args: unknown[]): void
  loginfo(...args: unknown[]): void
  lognotice(...args: unknown[]): void
  logwarn(...args: unknown[]): void
  logerror(...args: unknown[]): void
  logcrit(...args: unknown[]): void
  [method: string]: unknown
}
