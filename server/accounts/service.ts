// Accounts: the one service the CLI, the web admin and Haraka's plugins share.
import { eq, asc } from 'drizzle-orm'
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

  list(): AccountInfo[] {
    return this.db
      .select()
      .from(accounts)
      .orderBy(asc(accounts.address))
      .all()
      .map((r) => ({ address: r.address, createdAt: r.createdAt, quotaMb: r.quotaMb }))
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
