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

  /**
   * For any click in the app: a plain click on a link to one of its own pages
   * stays in the page (no reload); ctrl/middle clicks, other sites, dclogin:
   * links and /api stay the browser's.
   */
  link = (e: MouseEvent): void => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    const a = (e.target as Element | null)?.closest?.('a')
    if (!a || a.target || a.hasAttribute('download') || a.origin !== window.location.origin) return
    if (a.pathname === '/api' || a.pathname.startsWith('/api/')) return
    e.preventDefault()
    this.go(a.pathname + a.hash)
  }
}

export const router = new Router()
