// Who is looking at the admin: first run (no password yet), logged out, or
// logged in. The API module holds the CSRF token; this holds what the pages show.
import { api } from './api.ts'
import { live } from './live.svelte.ts'

export class Session {
  /** undefined until the first /api/auth/state answer. */
  setup = $state<boolean | undefined>(undefined)
  loggedIn = $state(false)

  async refresh(): Promise<void> {
    const s = await api.authState()
    this.setup = s.setup
    this.loggedIn = s.loggedIn
    if (s.loggedIn) live.start()
  }

  async firstRun(password: string, code: string): Promise<void> {
    await api.setup(password, code)
    this.setup = true
    this.loggedIn = true
    live.start()
  }

  async login(password: string): Promise<void> {
    await api.login(password)
    this.loggedIn = true
    live.start()
  }

  async logout(): Promise<void> {
    live.stop()
    try {
      await api.logout()
    } finally {
      this.loggedIn = false
    }
  }

  /** The API answered 401: the session timed out or was ended elsewhere. */
  lost(): void {
    live.stop()
    this.loggedIn = false
  }
}

export const session = new Session()
