// Invite codes: the admin hands one out (as a link or QR) and group members
// make their own account with it on the landing page, as long as
// first-login creation is on. A code has an expiry and a use count; both are
// checked and the use taken in one UPDATE, so two phones racing for the
// last use cannot both get it.
import { randomBytes } from 'node:crypto'
import { and, asc, eq, gt, lt, sql } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { invites } from '../db/schema.js'
import { getSetting, setSetting } from '../db/settings.js'
import type { AccountService } from './service.js'
import { AccountError } from './service.js'
import { AddressError } from './address.js'
import { OutpostError } from '../base/errors.js'

/** Settings key: may group members create their own account with an invite code? */
export const FIRST_LOGIN_KEY = 'accounts.firstLogin'

export class InviteError extends OutpostError {
  override name = 'InviteError'
  constructor(
    message: string,
    /** The HTTP status the web answers with. */
    readonly statusCode: number,
  ) {
    super(message)
  }
}

export interface Invite {
  code: string
  createdAt: number
  expiresAt: number
  maxUses: number
  uses: number
}

export function firstLoginEnabled(db: Db): boolean {
  return getSetting<boolean>(db, FIRST_LOGIN_KEY) ?? false
}

export function setFirstLogin(db: Db, enabled: boolean): void {
  setSetting(db, FIRST_LOGIN_KEY, enabled)
}

/** 12 letters from a 32-letter alphabet without l, o, 0 and 1 (look-alikes): 60 bits, easy to read aloud. */
function newCode(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789'
  return [...randomBytes(12)].map((b) => alphabet[b % 32]).join('')
}

export class InviteService {
  constructor(
    private readonly db: Db,
    private readonly accounts: AccountService,
    private readonly domain: string,
    private readonly now: () => number = Date.now,
  ) {}

  create(opts: { expiresInHours: number; maxUses: number }): Invite {
    if (!(opts.expiresInHours > 0 && opts.expiresInHours <= 24 * 90)) throw new InviteError('an invite must expire within 1 hour to 90 days', 400)
    if (!(Number.isInteger(opts.maxUses) && opts.maxUses >= 1 && opts.maxUses <= 1000)) throw new InviteError('an invite may be used 1 to 1000 times', 400)
    const now = this.now()
    const invite = { code: newCode(), createdAt: now, expiresAt: now + Math.round(opts.expiresInHours * 3600_000), maxUses: opts.maxUses, uses: 0 }
    this.db.insert(invites).values(invite).run()
    return invite
  }

  list(): Invite[] {
    return this.db.select().from(invites).orderBy(asc(invites.createdAt)).all()
  }

  remove(code: string): void {
    if (this.db.delete(invites).where(eq(invites.code, code)).run().changes === 0) throw new InviteError(`no invite ${code}`, 404)
  }

  /** Drops invites that expired more than a week ago (the list keeps recent ones so the admin sees why a code failed). */
  prune(): number {
    return this.db.delete(invites).where(lt(invites.expiresAt, this.now() - 7 * 24 * 3600_000)).run().changes
  }

  /** Makes an account NAME@domain with a code; returns it with its new password. */
  async redeem(code: string, name: string): Promise<{ address: string; password: string }> {
    if (!firstLoginEnabled(this.db)) throw new InviteError('this box does not let members make their own account; ask the admin for one', 403)
    const address = `${name.trim().toLowerCase()}@${this.domain}`
    try {
      this.accounts.checkAddress(address)
    } catch (err) {
      if (err instanceof AddressError) throw new InviteError(`"${name}" cannot be a name here: use letters, digits and . _ + - only`, 400)
      throw err
    }
    // The code first: without a good one, nobody learns which names are taken.
    const taken = this.db
      .update(invites)
      .set({ uses: sql`${invites.uses} + 1` })
      .where(and(eq(invites.code, code), gt(invites.expiresAt, this.now()), lt(invites.uses, invites.maxUses)))
      .run().changes
    if (taken === 0) throw new InviteError('this invite code is wrong, expired or used up; ask the admin for a new one', 403)
    try {
      if (this.accounts.get(address)) throw new AccountError(`${address} exists`)
      return await this.accounts.add(address)
    } catch (err) {
      // The account was not made: give the use back.
      this.db.update(invites).set({ uses: sql`${invites.uses} - 1` }).where(eq(invites.code, code)).run()
      if (err instanceof AccountError) throw new InviteError(`${address} is taken; choose another name`, 409)
      throw err
    }
  }
}
