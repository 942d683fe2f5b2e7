// Remembers successful logins for a few minutes. Delta Chat logs in for
// every send, and each Argon2id check costs ~19 MiB and tens of
// milliseconds on a small board. An entry is keyed by a hash of user,
// password and the stored hash, so a wrong password never matches and a
// changed password or removed account invalidates the entry at once.
import { createHash } from 'node:crypto'

export class LoginCache {
  private readonly entries = new Map<string, number>()

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly maxEntries = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  static key(user: string, password: string, storedHash: string): string {
    return createHash('sha256').update(`${user}\0${password}\0${storedHash}`).digest('hex')
  }

  has(key: string): boolean {
    const until = this.entries.get(key)
    if (until === undefined) return false
    if (until <= this.now()) {
      this.entries.delete(key)
      return false
    }
    return true
  }

  add(key: string): void {
    this.entries.delete(key)
    // Map keeps insertion order: the first entry is the oldest.
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(key, this.now() + this.ttlMs)
  }
}
