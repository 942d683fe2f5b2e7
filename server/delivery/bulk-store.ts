// Many messages into one mailbox at once, for import: `doveadm import` from
// a staging Maildir instead of one LMTP transaction per message.
//
// Dovecot's LMTP sets up the recipient's mail user and opens the mailbox
// for every transaction: about 280 system calls and 2.5 ms of CPU a message
// on a 2-core machine, so Dovecot alone stores about 400 msg/s however many
// sessions feed it (docs/performance.md). One `doveadm import` of a few
// hundred messages pays that set-up once, and Dovecot still does the
// storing itself: the same Maildir, indexes, quota and fsyncs as LMTP, and
// an idling phone is told at once as with LMTP.
//
// The staging Maildir is written without fsync: it is only a copy of
// messages the bundle still holds, and the ledger's `pending` rows were
// committed before it was written (delivery/batch.ts). Whatever happens to
// the import (a crash, a full quota, doveadm killed), the caller reads the
// mailbox for what got in, as after a crashed LMTP delivery.
import { readFileSync, statSync } from 'node:fs'
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exec as realExec, type Exec } from '../base/exec.js'
import { DELIVERY_HEADER, maildirOf } from './deliver.js'

export interface BulkMessage {
  key: string
  sender: string
  message: Buffer
}

/** Stores messages in a recipient's INBOX in one go; throws BulkStoreError when it did not store them all. */
export interface BulkStore {
  store(recipient: string, messages: readonly BulkMessage[]): Promise<void>
}

export class BulkStoreError extends Error {
  /** True when nothing was tried, so the mailbox cannot hold any of the messages. */
  constructor(message: string, readonly untried = false) {
    super(message)
  }
}

/**
 * Room left in a mailbox's quota, from its Maildir++ `maildirsize` file
 * (the limit on the first line, then one "bytes count" line per change):
 * Infinity without a limit, undefined when Dovecot has not counted yet.
 */
export function quotaRoom(maildir: string): number | undefined {
  let text: string
  try {
    text = readFileSync(join(maildir, 'maildirsize'), 'latin1')
  } catch {
    return undefined
  }
  const [head, ...lines] = text.split('\n')
  const limit = /(\d+)S/.exec(head ?? '')
  if (!limit) return Infinity
  const bytes = Number(limit[1])
  if (bytes === 0) return Infinity
  let used = 0
  for (const line of lines) used += Number(line.trim().split(/\s+/)[0] ?? 0) || 0
  return bytes - used
}

/**
 * The message as Dovecot's LMTP would store it for `recipient`: the
 * Return-Path and Delivered-To lines LMTP adds, then our trace header (the
 * ledger key, which a crashed attempt's retry looks for), with LF line ends
 * as Dovecot keeps Maildir files.
 */
export function stagedMessage(m: BulkMessage, recipient: string): Buffer {
  const head = `Return-Path: <${m.sender}>\nDelivered-To: ${recipient}\n${DELIVERY_HEADER}: ${m.key}\n`
  const body = m.message.includes('\r\n') ? Buffer.from(m.message.toString('latin1').replaceAll('\r\n', '\n'), 'latin1') : m.message
  return Buffer.concat([Buffer.from(head, 'latin1'), body])
}

export interface DoveadmBulkStoreOptions {
  dovecotConf: string
  /** The node's mail dir; the staging Maildir is made inside it, as the mail files' owner. */
  mailDir: string
  exec?: Exec
  timeoutMs?: number
}

/** Staging files written at once. */
const STAGE_WRITES = 16

export class DoveadmBulkStore implements BulkStore {
  private readonly exec: Exec

  constructor(private readonly opts: DoveadmBulkStoreOptions) {
    this.exec = opts.exec ?? realExec
  }

  async store(recipient: string, messages: readonly BulkMessage[]): Promise<void> {
    // doveadm import does not apply the quota, so the messages go this way
    // only when they fit; otherwise LMTP answers for each (a full mailbox
    // refuses the rest with 552, as for any other delivery).
    const staged = messages.map((m) => stagedMessage(m, recipient))
    const mailbox = maildirOf(this.opts.mailDir, recipient)
    let room = quotaRoom(mailbox)
    if (room === undefined) {
      // A mailbox that has never been counted (no mail yet): asking Dovecot
      // for the quota counts it and writes maildirsize.
      await this.exec('doveadm', ['-c', this.opts.dovecotConf, 'quota', 'get', '-u', recipient], { timeoutMs: this.opts.timeoutMs ?? 120_000 })
      room = quotaRoom(mailbox)
    }
    const need = staged.reduce((n, b) => n + b.length, 0)
    if (room === undefined || need > room) {
      throw new BulkStoreError(`${recipient}: ${room === undefined ? 'the quota is not counted yet' : `${need} bytes do not fit the ${Math.max(0, room)} left in the quota`}`, true)
    }
    // A name no domain can have, so it never meets a mailbox.
    const stage = await mkdtemp(join(this.opts.mailDir, '.import-'))
    try {
      const maildir = join(stage, 'Maildir')
      for (const sub of ['new', 'cur', 'tmp']) await mkdir(join(maildir, sub), { recursive: true, mode: 0o700 })
      // doveadm reads the staging Maildir as the mail user (when the node
      // runs as root, Dovecot's own user), so that user must own it.
      const owner = statSync(this.opts.mailDir)
      const chownTo = process.getuid?.() === 0 && owner.uid !== 0 ? owner : undefined
      if (chownTo) for (const p of [stage, maildir, ...['new', 'cur', 'tmp'].map((s) => join(maildir, s))]) await chown(p, chownTo.uid, chownTo.gid)
      // Fixed-width names sort the same as numbers and strings, so the
      // messages get their UIDs in the bundle's order. Written a few at a
      // time on libuv's threads, while another mailbox's import runs.
      const files = staged.map((_, i) => join(maildir, 'new', `${String(i).padStart(10, '0')}.import`))
      for (let i = 0; i < staged.length; i += STAGE_WRITES) {
        await Promise.all(
          staged.slice(i, i + STAGE_WRITES).map(async (b, j) => {
            await writeFile(files[i + j]!, b, { mode: 0o600 })
            if (chownTo) await chown(files[i + j]!, chownTo.uid, chownTo.gid)
          }),
        )
      }
      // Copied, not hard-linked: Dovecot then writes (and fsyncs) each
      // message under a name of its own, as LMTP does, and the staging
      // files need no fsync. If this process dies, doveadm dies with it
      // (pdeathsig): an import left running could store a message again
      // after the next attempt has read the mailbox.
      const r = await this.exec('setpriv', ['--pdeathsig', 'SIGKILL', 'doveadm', '-c', this.opts.dovecotConf, '-o', 'maildir_copy_with_hardlinks=no', 'import', '-u', recipient, `maildir:${maildir}`, '', 'ALL'], { timeoutMs: this.opts.timeoutMs ?? 120_000 })
      if (r.code !== 0) throw new BulkStoreError(`doveadm import for ${recipient} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`)
    } finally {
      await rm(stage, { recursive: true, force: true })
    }
  }
}
