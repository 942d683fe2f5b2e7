import { describe, expect, it } from 'vitest'
import { Imports } from './imports.svelte.ts'
import type { OutpostEvent, OutpostEvents } from './api.ts'

let at = 1000
const ev = (data: Partial<OutpostEvents['import.run']>, when = at++): OutpostEvent<'import.run'> => ({
  id: 0,
  at: when,
  kind: 'import.run',
  data: { via: 'usb', phase: 'start', ...data },
})

describe('import progress', () => {
  it('goes from the start through bytes done of total to complete, counting messages', () => {
    const x = new Imports()
    x.apply(ev({ phase: 'start', done: 0, total: 4000, messages: 0 }))
    expect(x.byVia.usb).toMatchObject({ phase: 'start', fraction: 0, messages: 0 })
    x.apply(ev({ phase: 'progress', done: 1000, total: 4000, messages: 500 }))
    expect(x.byVia.usb).toMatchObject({ fraction: 0.25, messages: 500 })
    x.apply(ev({ phase: 'done', done: 4000, total: 4000, messages: 2000 }))
    expect(x.byVia.usb).toMatchObject({ phase: 'done', fraction: 1, messages: 2000 })
  })

  it('an older progress event that arrives late does not move the bar back', () => {
    const x = new Imports()
    x.apply(ev({ phase: 'progress', done: 3000, total: 4000, messages: 1500 }, 2000))
    x.apply(ev({ phase: 'progress', done: 1000, total: 4000, messages: 500 }, 1999))
    expect(x.byVia.usb!.fraction).toBe(0.75)
  })

  it('lists running imports first, then finished ones, newest first', () => {
    const x = new Imports()
    x.apply(ev({ via: 'folder', phase: 'done', messages: 3 }, 10))
    x.apply(ev({ via: 'syncthing', phase: 'error', error: 'gone', messages: 1 }, 30))
    x.apply(ev({ via: 'usb', phase: 'progress', done: 1, total: 2, messages: 9 }, 20))
    expect(x.list.map((p) => p.via)).toEqual(['usb', 'syncthing', 'folder'])
  })
})
