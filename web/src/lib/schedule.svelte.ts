// The schedule editor's live preview: as the person types a cron expression,
// ask the box what it means and when it runs next, but only once typing
// pauses, and never show an older answer over a newer one.
import type { SchedulePreview } from './api.ts'

export type PreviewFetch = (schedule: string) => Promise<SchedulePreview>

export class ScheduleEditor {
  preview = $state<SchedulePreview | undefined>(undefined)
  loading = $state(false)
  /** The box could not be asked (not a bad schedule: that is preview.error). */
  failed = $state<string | undefined>(undefined)
  private timer: ReturnType<typeof setTimeout> | undefined
  private asked = 0

  constructor(
    private readonly fetchPreview: PreviewFetch,
    private readonly delayMs = 300,
  ) {}

  /** Called on every keystroke. */
  set(schedule: string): void {
    clearTimeout(this.timer)
    const s = schedule.trim()
    if (!s) {
      this.asked++
      this.preview = { valid: false, error: 'Enter a schedule, e.g. "*/15 * * * *" or "event".', next: [] }
      this.loading = false
      return
    }
    this.loading = true
    this.timer = setTimeout(() => void this.ask(s), this.delayMs)
  }

  private async ask(s: string): Promise<void> {
    const mine = ++this.asked
    try {
      const p = await this.fetchPreview(s)
      if (mine !== this.asked) return
      this.preview = p
      this.failed = undefined
    } catch (err) {
      if (mine !== this.asked) return
      this.failed = (err as Error).message
    } finally {
      if (mine === this.asked) this.loading = false
    }
  }

  dispose(): void {
    clearTimeout(this.timer)
    this.asked++
  }
}
