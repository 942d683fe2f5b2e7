// What becomes of an account's mail when the account is removed: it is
// archived. The account's home (Dovecot's `home=<mail>/<domain>/<local>`,
// its Maildir inside) is moved out of the mail dir to
//   <data>/archive/<address>-<UTC time, YYYYMMDDTHHMMSSZ>/
// so that the next account of that name (a new member with an invite, say)
// starts with an empty mailbox and cannot read the old one's mail. Archived,
// not wiped: a removal by mistake loses nothing, like quarantine. The admin
// deletes the archive when it is no longer wanted; the CLI and the web admin
// say where it went.
import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { NodePaths } from '../base/paths.js'
import type { Exec } from '../base/exec.js'
import type { AccountService } from './service.js'
import { splitAddress, normaliseAddress } from './address.js'
import { fsyncDir } from '../base/durable.js'

export function archiveDir(paths: NodePaths): string {
  return join(paths.data, 'archive')
}

/** The account's home as Dovecot's userdb computes it (dovecot/config.ts). */
export function mailboxHome(paths: NodePaths, address: string): string {
  const { local, domain } = splitAddress(normaliseAddress(address))
  return join(paths.mail, domain, local)
}

function stamp(now: number): string {
  return new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')
}

/**
 * Moves the account's home into the archive; the archive's path, or
 * undefined when the account never had mail on disk. A rename: the same
 * file system, so it is whole or not at all.
 */
export function archiveMailbox(paths: NodePaths, address: string, now: number): string | undefined {
  const home = mailboxHome(paths, address)
  if (!existsSync(home)) return undefined
  const root = archiveDir(paths)
  // Mail is private: only the node's user reads the archive.
  mkdirSync(root, { recursive: true, mode: 0o700 })
  const base = join(root, `${normaliseAddress(address)}-${stamp(now)}`)
  let target = base
  for (let n = 2; existsSync(target); n++) target = `${base}-${n}`
  renameSync(home, target)
  fsyncDir(dirname(home))
  fsyncDir(root)
  return target
}

export interface RemovedAccount {
  address: string
  /** Where its mail went, or undefined when it had none on disk. */
  archive: string | undefined
  /** What could not be done, for the admin to act on. */
  warnings: string[]
}

/**
 * Removes an account and archives its mail: the CLI's `account remove` and
 * the web admin's both come here. The account goes first, so no new login or
 * delivery finds it; then its open IMAP sessions are ended, so that none
 * writes into the old path after the move; then the move.
 */
export async function removeAccount(
  node: { accounts: AccountService; paths: NodePaths },
  address: string,
  opts: { exec: Exec; now: number },
): Promise<RemovedAccount> {
  const a = normaliseAddress(address)
  node.accounts.remove(a)
  const warnings: string[] = []
  // Sessions exist only while the node's Dovecot runs.
  if (existsSync(join(node.paths.dovecotBase, 'master.pid'))) {
    const r = await opts.exec('doveadm', ['-c', node.paths.dovecotConf, 'kick', a]).catch((err: Error) => ({ code: 1, stdout: '', stderr: err.message }))
    // Exit 68 (EX_NOUSER) is doveadm's "nobody was kicked": no session was open.
    if (r.code !== 0 && r.code !== 68) warnings.push(`could not end ${a}'s open IMAP sessions (doveadm kick: ${(r.stderr || r.stdout).trim()}); a phone still logged in may write to ${mailboxHome(node.paths, a)} until it disconnects`)
  }
  const archive = archiveMailbox(node.paths, a, opts.now)
  return { address: a, archive, warnings }
}
