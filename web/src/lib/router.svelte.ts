// Client-side routing without a router library: the server answers
// index.html for every path outside /api, and this keeps the current path in
// $state so the app re-renders when it changes.
export class Router {
  path = $state('/')
  hash = $state('')

  constructor() {
    if (typeof window === 'undefined') return
    this.sync()
    window.addEventListener('popstate', () => this.sync())
  }

  private sync(): void {
    this.path = window.location.pathname.replace(/\/+$/, '') || '/'
    this.hash = window.location.hash.replace(/^#/, '')
  }

  /** Goes to `to` (a path, optionally with #hash); `replace` keeps it out of the back button. */
  go(to: string, replace = false): void {
    if (to === window.location.pathname + window.location.hash) return
    if (replace) history.replaceState(null, '', to)
    else history.pushState(null, '', to)
    this.sync()
    window.scrollTo?.(0, 0)
  }

  /** For <a href> inside the app: plain clicks stay in the page, ctrl/middle clicks open a tab. */
  link = (e: MouseEvent): void => {
    const a = (e.currentTarget as HTMLAnchorElement | null) ?? null
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    if (a.origin !== window.location.origin) return
    e.preventDefault()
    this.go(a.pathname + a.hash)
  }
}

export const router = new Router()
