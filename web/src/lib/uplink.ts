// How the Internet uplink reads on the Settings page: one status line that
// says whether the box can reach the Internet now and when it last could.
import type { Uplink } from './api.ts'
import { relative } from './format.ts'

export interface UplinkStatus {
  /** The colour: ok (online), warn (offline), muted (unknown or none). */
  tone: 'ok' | 'warn' | 'muted'
  label: string
  detail: string
}

/** What the uplink goes through, in words: "the gateway town", "the email account group@provider.example". */
export function uplinkVia(u: Uplink): string {
  if (u.kind === 'gateway') return `the gateway ${u.peer ?? '(none chosen)'}`
  if (u.kind === 'account') return `the email account ${u.account?.address ?? '(none set)'}`
  return 'nothing'
}

/** "3 min ago", or "never". */
export function lastOnline(u: Uplink, now = Date.now()): string {
  return u.lastOnline === null ? 'never' : relative(u.lastOnline, now)
}

const cap = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`

export function uplinkStatus(u: Uplink): UplinkStatus {
  if (u.kind === 'none') {
    if (u.gateway) return { tone: 'ok', label: 'Gateway', detail: `This box is on the Internet itself and sends the group's mail ${u.smarthost ? `through ${u.smarthost.host}:${u.smarthost.port}` : 'straight to each domain (MX)'}.` }
    return { tone: 'muted', label: 'No uplink', detail: 'Mail for the Internet waits on this box until an uplink is chosen below.' }
  }
  const via = uplinkVia(u)
  if (u.online === null) return { tone: 'muted', label: 'Not checked yet', detail: `The box checks ${via} every ${u.probeSeconds} s.` }
  if (u.online) return { tone: 'ok', label: 'Online', detail: `${cap(via)} answers.` }
  return { tone: 'warn', label: 'Offline', detail: `${cap(via)} does not answer${u.lastOnline === null ? ' (it never has yet)' : ''}. Mail waits here and goes as soon as it answers.` }
}
