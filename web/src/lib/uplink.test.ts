import { describe, expect, it } from 'vitest'
import type { Uplink } from './api.ts'
import { lastOnline, uplinkStatus, uplinkVia } from './uplink.ts'

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0)
const base: Uplink = { gateway: false, kind: 'gateway', peer: 'town', probeSeconds: 30, online: null, lastOnline: null, smarthost: null, account: null, dkim: [] }

describe('uplink status', () => {
  it('says online, offline with the last time, or not checked yet', () => {
    expect(uplinkStatus({ ...base, online: true, lastOnline: NOW - 5_000 })).toEqual({ tone: 'ok', label: 'Online', detail: 'The gateway town answers.' })
    const off = { ...base, online: false, lastOnline: NOW - 3 * 3600_000 }
    expect(uplinkStatus(off)).toEqual({ tone: 'warn', label: 'Offline', detail: 'The gateway town does not answer. Mail waits here and goes as soon as it answers.' })
    expect(lastOnline(off, NOW)).toBe('3 h ago')
    expect(uplinkStatus({ ...base, online: false }).detail).toMatch(/^The gateway town does not answer \(it never has yet\)\./)
    expect(lastOnline(base, NOW)).toBe('never')
    expect(uplinkStatus(base)).toEqual({ tone: 'muted', label: 'Not checked yet', detail: 'The box checks the gateway town every 30 s.' })
  })

  it('names an email account, a gateway box and no uplink', () => {
    const account = { address: 'group@provider.test', smtpHost: 's', smtpPort: 587, imapHost: 'i', imapPort: 143, user: 'u', insecureTls: false, passwordSet: true }
    expect(uplinkVia({ ...base, kind: 'account', account })).toBe('the email account group@provider.test')
    expect(uplinkStatus({ ...base, kind: 'account', account, online: true, lastOnline: NOW - 10 * 60_000 }).detail).toBe('The email account group@provider.test answers.')
    expect(uplinkStatus({ ...base, kind: 'none', peer: null }).label).toBe('No uplink')
    const gw = uplinkStatus({ ...base, kind: 'none', gateway: true, smarthost: { host: 'smtp.relay.test', port: 587, user: 'u', passwordSet: true } })
    expect(gw).toEqual({ tone: 'ok', label: 'Gateway', detail: "This box is on the Internet itself and sends the group's mail through smtp.relay.test:587." })
    expect(lastOnline({ ...base, lastOnline: NOW - 2 * 86_400_000 }, NOW)).toBe('2 days ago')
  })
})
