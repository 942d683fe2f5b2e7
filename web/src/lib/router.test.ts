// @vitest-environment jsdom
import { describe, expect, it } from 'vitest'
import { Router } from './router.svelte.ts'

function click(el: Element, init: MouseEventInit = {}): MouseEvent {
  const e = new MouseEvent('click', { bubbles: true, cancelable: true, button: 0, ...init })
  el.dispatchEvent(e)
  return e
}

describe('Router', () => {
  const router = new Router()
  document.addEventListener('click', router.link)

  it('follows a link to one of its own pages without reloading, and back', () => {
    document.body.innerHTML = '<a href="/admin/accounts"><span>Accounts</span></a>'
    const e = click(document.querySelector('span')!)
    expect(e.defaultPrevented).toBe(true)
    expect(router.path).toBe('/admin/accounts')
    expect(location.pathname).toBe('/admin/accounts')
    history.replaceState(null, '', '/admin')
    window.dispatchEvent(new PopStateEvent('popstate'))
    expect(router.path).toBe('/admin')
  })

  it('keeps the hash of a join link', () => {
    router.go('/join#abc123')
    expect(router.path).toBe('/join')
    expect(router.hash).toBe('abc123')
  })

  it('leaves dclogin: links, other sites, new tabs and the API to the browser', () => {
    document.body.innerHTML = `
      <a id="dc" href="dclogin:alice@camp.test?p=x">dc</a>
      <a id="ext" href="https://delta.chat/download">ext</a>
      <a id="tab" href="/admin/queue" target="_blank">tab</a>
      <a id="api" href="/api/health">api</a>
      <a id="ctrl" href="/admin/usb">ctrl</a>`
    const before = router.path
    for (const id of ['dc', 'ext', 'tab', 'api']) expect(click(document.getElementById(id)!).defaultPrevented, id).toBe(false)
    expect(click(document.getElementById('ctrl')!, { ctrlKey: true }).defaultPrevented).toBe(false)
    expect(router.path).toBe(before)
  })
})
