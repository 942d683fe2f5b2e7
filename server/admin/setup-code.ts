// The setup code: a one-time secret that claims a new box. Until an admin
// password exists, the first-run page needs it, so a stranger on the same
// Wi-Fi (or the Internet, at a gateway) cannot set the password first. Only
// someone who can read the node's data dir or see its console has it:
// `outpost init` prints it, `outpost admin setup-code` shows it again, the
// start log repeats it while the box is unclaimed. It is deleted once a
// password is set.
//
// On disk: `<data>/setup-code` (NodePaths.setupCode), mode 0600, one line of 16 characters from
// RFC 4648's base32 alphabet (A–Z, 2–7), shown in four groups of four.
// 80 bits: with the login's throttle (5 wrong tries per address a quarter
// hour) nobody guesses it.
import { chownSync, existsSync, readFileSync, statSync, unlinkSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'
import { writeFileDurable, fsyncDir } from '../base/durable.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const LENGTH = 16

export function newSetupCode(): string {
  // 16 bytes, one per character: 256 is a multiple of 32, so no bias.
  return [...randomBytes(LENGTH)].map((b) => ALPHABET[b % 32]).join('')
}

/** As a person reads and types it: ABCD-EFGH-JKLM-NPQR. */
export function formatSetupCode(code: string): string {
  return code.match(/.{1,4}/g)!.join('-')
}

/**
 * What a person typed, made comparable: case, spaces and dashes do not
 * matter, and the digits base32 leaves out are read as the letters they
 * look like (0 → O, 1 → I, 8 → B).
 */
export function normaliseSetupCode(typed: string): string {
  return typed
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replaceAll('0', 'O')
    .replaceAll('1', 'I')
    .replaceAll('8', 'B')
}

/** The setup code file of one data dir. */
export class SetupCodeFile {
  constructor(readonly path: string) {}

  /** The code, or undefined when there is none (the box is claimed, or was never given one). */
  read(): string | undefined {
    if (!existsSync(this.path)) return undefined
    const code = normaliseSetupCode(readFileSync(this.path, 'utf8').trim())
    return code.length === LENGTH ? code : undefined
  }

  /**
   * The code, made now if there is none. Made by root in a data dir that
   * belongs to the node's user (the .deb's postinst, `sudo outpost …`), the
   * file is handed to that user, who must be able to read it.
   */
  ensure(): { code: string; created: boolean } {
    const have = this.read()
    if (have) return { code: have, created: false }
    const code = newSetupCode()
    // Owner-only: whoever reads it can claim the box.
    writeFileDurable(this.path, `${formatSetupCode(code)}\n`, 0o600)
    if (process.getuid?.() === 0) {
      const owner = statSync(dirname(this.path))
      if (owner.uid !== 0) chownSync(this.path, owner.uid, owner.gid)
    }
    return { code, created: true }
  }

  /** Deletes the code: the box has an admin password now. */
  remove(): void {
    if (!existsSync(this.path)) return
    unlinkSync(this.path)
    fsyncDir(dirname(this.path))
  }
}
