// Accounts: the one service the CLI, the web admin and Haraka's plugins share.
import { eq } from 'drizzle-orm'
import type { Db } from '../db/index.js'
import { accounts } from '../db/schema.js'
import { hashPassword, randomPassword, verifyPassword } from './password.js'
import { AddressError, normaliseAddress, splitAddress } from './address.js'
import { OutpostError } from '../base/errors.js'

export class AccountError extends OutpostError {
  override name = 'AccountError'
}

export interface AccountInfo {
  address: string
  createdAt: number
  quotaMb: number | null
}

/** One page of accounts, by address; `next` is null on the last page. */
export interface AccountPage {
  items: AccountInfo[]
  /** How many accounts match the search, on every page. */
  total: number
  next: string | null
}

export const ACCOUNT_PAGE = 50
export const ACCOUNT_PAGE_MAX = 200

/**
 * The account list's queries. Both walk the address index (the UNIQUE
 * constraint's) in order, so a page reads its rows and stops; the search is a
 * substring of the address, as an admin looking for one person types part of
 * a name. A unit test holds each plan to that index.
 */
export const ACCOUNT_SQL = {
  all: `SELECT address, created_at AS createdAt, quota_mb AS quotaMb FROM accounts ORDER BY address`,
  page: `SELECT address, created_at AS createdAt, quota_mb AS quotaMb FROM accounts WHERE address > ? AND instr(address, ?) > 0 ORDER BY address LIMIT ?`,
  count: `SELECT count(*) AS n FROM accounts WHERE instr(address, ?) > 0`,
} as const

export class AccountCursorError extends OutpostError {
  override name = 'AccountCursorError'
}

/** The cursor is the last address shown, so an account added or removed between pages neither repeats nor hides another. */
export function encodeAccountCursor(address: string): string {
  return Buffer.from(address, 'utf8').toString('base64url')
}

export function decodeAccountCursor(s: string): string {
  const address = Buffer.from(s, 'base64url').toString('utf8')
  if (!address.includes('@') || encodeAccountCursor(address) !== s) throw new AccountCursorError(`"${s.slice(0, 40)}" is not an account cursor; use the "next" value of the page before`)
  return address
}

export class AccountService {
  constructor(
    private readonly db: Db,
    private readonly domains: readonly string[],
  ) {}

  /** The normalised address, or an AddressError when this node does not serve it. */
  checkAddress(address: string): string {
    const { domain } = splitAddress(address)
    if (!this.domains.includes(domain)) throw new AddressError(`${address}: this node serves ${this.domains.join(', ')}, not ${domain}`)
    return normaliseAddress(address)
  }

  /** Creates an account; returns the password (the given one or a new random one). */
  async add(address: string, password?: string): Promise<{ address: string; password: string }> {
    const a = this.checkAddress(address)
    if (this.get(a)) throw new AccountError(`${a} already exists (use \`account passwd\` to change its password)`)
    const pw = password ?? randomPassword()
    checkPasswordStrength(pw)
    const hash = await hashPassword(pw)
    this.db.insert(accounts).values({ address: a, passwordHash: hash, createdAt: Date.now() }).run()
    return { address: a, password: pw }
  }

  get(address: string): AccountInfo | undefined {
    const row = this.db.select().from(accounts).where(eq(accounts.address, normaliseAddress(address))).get()
    return row ? { address: row.address, createdAt: row.createdAt, quotaMb: row.quotaMb } : undefined
  }

  /** Every account by address (the CLI's list): one prepared statement, as a 500-account list must stay well inside a CLI view's time. */
  list(): AccountInfo[] {
    return this.db.$client.prepare(ACCOUNT_SQL.all).all() as AccountInfo[]
  }

  /** How many accounts there are: a count, not a list (`status`). */
  count(): number {
    return (this.db.$client.prepare(ACCOUNT_SQL.count).get('') as { n: number }).n
  }

  /**
   * One page of accounts by address, after the cursor `after`, of those whose
   * address contains `search` (case does not matter: addresses are stored in
   * lower case).
   */
  page(opts: { after?: string; limit?: number; search?: string } = {}): AccountPage {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? ACCOUNT_PAGE), 1), ACCOUNT_PAGE_MAX)
    const after = opts.after ? decodeAccountCursor(opts.after) : ''
    const search = (opts.search ?? '').trim().toLowerCase()
    const q = this.db.$client
    // One row more than the page, to know whether another follows.
    const rows = q.prepare(ACCOUNT_SQL.page).all(after, search, limit + 1) as AccountInfo[]
    const total = (q.prepare(ACCOUNT_SQL.count).get(search) as { n: number }).n
    const items = rows.slice(0, limit)
    return { items, total, next: rows.length > limit ? encodeAccountCursor(items.at(-1)!.address) : null }
  }

  remove(address: string): void {
    const a = normaliseAddress(address)
    const r = this.db.delete(accounts).where(eq(accounts.address, a)).run()
    if (r.changes === 0) throw new AccountError(`${a}: no such account`)
  }

  async setPassword(address: string, password?: string): Promise<{ address: string; password: string }> {
    const a = normaliseAddress(address)
    if (!this.get(a)) throw new AccountError(`${a}: no such account`)
    const pw = password ?? randomPassword()
    checkPasswordStrength(pw)
    const hash = await hashPassword(pw)
    this.db.update(accounts).set({ passwordHash: hash }).where(eq(accounts.address, a)).run()
    return { address: a, password: pw }
  }

  async verify(address: string, password: string): Promise<boolean> {
    const row = this.db.select({ h: accounts.passwordHash }).from(accounts).where(eq(accounts.address, normaliseAddress(address))).get()
    // Hash anyway when there is no such account, so timing does not tell which accounts exist.
    if (!row) {
      await verifyPassword(password, DUMMY_HASH)
      return false
    }
    return verifyPassword(password, row.h)
  }
}

const DUMMY_HASH = '{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'

export function checkPasswordStrength(pw: string): void {
  if (pw.length < 9) throw new AccountError('passwords must be at least 9 characters long')
  if (pw.length > 256) throw new AccountError('passwords may be at most 256 characters long')
}
