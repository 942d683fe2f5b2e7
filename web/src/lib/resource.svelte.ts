// Data a page shows: loaded once, then refreshed in the background (polling
// marks itself as background so it never keeps a session alive).
export class Resource<T> {
  data = $state<T | undefined>(undefined)
  error = $state<string | undefined>(undefined)
  loading = $state(false)

  constructor(private readonly fetcher: (background: boolean) => Promise<T>) {}

  async load(background = false): Promise<void> {
    if (!background) this.loading = true
    try {
      this.data = await this.fetcher(background)
      this.error = undefined
    } catch (err) {
      this.error = (err as Error).message
    } finally {
      this.loading = false
    }
  }

  private soonTimer: ReturnType<typeof setTimeout> | undefined

  /** A background reload within `ms`, however often it is asked for meanwhile (a burst of live events). */
  soon(ms = 1000): void {
    if (this.soonTimer) return
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined
      void this.load(true)
    }, ms)
  }

  /** Loads now and every `ms` until the returned function is called (use it as an $effect's cleanup). */
  poll(ms: number): () => void {
    void this.load()
    const t = setInterval(() => void this.load(true), ms)
    return () => {
      clearInterval(t)
      clearTimeout(this.soonTimer)
      this.soonTimer = undefined
    }
  }
}
