// The web admin's password and sessions: one service for the web login and
// `outpost admin password`. The password is hashed like account passwords
// (Argon2id, 19 MiB, t=2: OWASP's minimum) and kept in the settings table;
// sessions are rows keyed by a hash of the cookie, so a restart keeps the
// admin logged in and a copy of the database logs nobody in.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { eq, lt, or, ne, and } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { sessions } from '../db/schema.js'
import { getSetting, setSetting, setSettingOnce } from '../db/settings.js'
import { hashPassword, MIN_ADMIN_PASSWORD, verifyPassword } from '../accounts/password.js'
import { normaliseSetupCode, type SetupCodeFile } from './setup-code.js'
import { OutpostError } from '../base/errors.js'

export const PASSWORD_KEY = 'admin.passwordHash'
/** A person away from the screen this long must log in again. */
export const IDLE_MS = 30 * 60 * 1000
/** However active, a session ends after this long. */
export const ABSOLUTE_MS = 12 * 60 * 60 * 1000

export const WRONG_SETUP_CODE =
  'wrong setup code. It was printed when the node was set up, and is in the start log; on the box, `outpost admin setup-code` shows it'

export class AdminAuthError extends OutpostError {
  override name = 'AdminAuthError'
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message)
  }
}

export interface AdminSession {
  idHash: string
  csrf: string
  createdAt: number
  lastSeenAt: number
}

function hashId(id: string): string {
  return createHash('sha256').update(id).digest('hex')
}

export function checkAdminPassword(pw: string): void {
  if (pw.length < MIN_ADMIN_PASSWORD) throw new AdminAuthError(`the admin password must be at least ${MIN_ADMIN_PASSWORD} characters long`, 400)
  if (pw.length > 256) throw new AdminAuthError('the admin password may be at most 256 characters long', 400)
}

/** Compares two strings in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export class AdminAuth {
  #claimed = false

  constructor(
    private readonly db: Db,
    readonly now: () => number = Date.now,
    /** The box's setup code (setup-code.ts); without it the first-run setup is refused. */
    private readonly setupCode?: SetupCodeFile,
  ) {}

  /** False until the first-run page (or `outpost admin password`) has set a password: the box is not claimed yet. */
  isSetUp(): boolean {
    // A password is never unset, so once seen it need not be read again.
    if (!this.#claimed) this.#claimed = getSetting<string>(this.db, PASSWORD_KEY) !== undefined
    return this.#claimed
  }

  /** Whether `typed` is the box's setup code; false when it has none (claimed, or none made yet). */
  isSetupCode(typed: string): boolean {
    const code = this.setupCode?.read()
    return code !== undefined && sameSecret(normaliseSetupCode(typed), code)
  }

  /**
   * The first-run setup: sets the password only when none exists yet, and
   * only for whoever has the setup code (the box's owner).
   */
  async setUp(password: string, code: string): Promise<void> {
    checkAdminPassword(password)
    if (this.isSetUp()) throw new AdminAuthError('an admin password is already set; log in with it (forgotten? run `outpost admin password` on the box)', 409)
    if (!this.isSetupCode(code)) throw new AdminAuthError(WRONG_SETUP_CODE, 403)
    const hash = await hashPassword(password)
    // Two first-run pages racing: the insert decides, not the check above.
    if (!setSettingOnce(this.db, PASSWORD_KEY, hash, this.now())) throw new AdminAuthError('an admin password was set a moment ago; log in with it', 409)
    this.#claimed = true
    // Used once: a copy of it seen later claims nothing.
    this.setupCode?.remove()
  }

  /** Sets or resets the password (the CLI, or a logged-in admin) and ends every other session. */
  async setPassword(password: string, keepSession?: AdminSession): Promise<void> {
    checkAdminPassword(password)
    setSetting(this.db, PASSWORD_KEY, await hashPassword(password), this.now())
    this.#claimed = true
    // Set on the box without the code (`outpost admin password`): the box is claimed, the code is spent.
    this.setupCode?.remove()
    this.db
      .delete(sessions)
      .where(keepSession ? ne(sessions.idHash, keepSession.idHash) : undefined)
      .run()
  }

  async verify(password: string): Promise<boolean> {
    const hash = getSetting<string>(this.db, PASSWORD_KEY)
    if (hash === undefined) return false
    return verifyPassword(password, hash)
  }

  /** A new session; `id` goes into the cookie and is never stored. */
  createSession(): { id: string; session: AdminSession } {
    const now = this.now()
    this.db.delete(sessions).where(or(lt(sessions.lastSeenAt, now - IDLE_MS), lt(sessions.createdAt, now - ABSOLUTE_MS))).run()
    const id = randomBytes(32).toString('base64url')
    const session = { idHash: hashId(id), csrf: randomBytes(32).toString('base64url'), createdAt: now, lastSeenAt: now }
    this.db.insert(sessions).values(session).run()
    return { id, session }
  }

  /**
   * The live session for a cookie value, or undefined. `touch` extends the
   * idle timer: only for requests a person made, so a dashboard left open
   * does not keep itself logged in.
   */
  session(id: string | undefined, opts: { touch: boolean }): AdminSession | undefined {
    if (!id) return undefined
    const idHash = hashId(id)
    const row = this.db.select().from(sessions).where(eq(sessions.idHash, idHash)).get()
    if (!row) return undefined
    const now = this.now()
    if (now - row.lastSeenAt > IDLE_MS || now - row.createdAt > ABSOLUTE_MS) {
      this.db.delete(sessions).where(eq(sessions.idHash, idHash)).run()
      return undefined
    }
    if (opts.touch) {
      this.db.update(sessions).set({ lastSeenAt: now }).where(and(eq(sessions.idHash, idHash))).run()
      return { ...row, lastSeenAt: now }
    }
    return row
  }

  /** Whether a session found earlier is still live, without extending it (an open websocket asks this). */
  stillLive(s: AdminSession): boolean {
    const row = this.db.select().from(sessions).where(eq(sessions.idHash, s.idHash)).get()
    const now = this.now()
    return row !== undefined && now - row.lastSeenAt <= IDLE_MS && now - row.createdAt <= ABSOLUTE_MS
  }

  endSession(s: AdminSession): void {
    this.db.delete(sessions).where(eq(sessions.idHash, s.idHash)).run()
  }
}
