// One line of plain language per event, for the activity log. Switching on
// the kind narrows the data to that kind's fields (the shared event map).
import type { AnyEvent, EventKind } from './api.ts'

export interface Described {
  text: string
  tone: 'plain' | 'good' | 'error'
}

const s = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

export function describe(e: AnyEvent): Described {
  switch (e.kind) {
    case 'message.accepted': {
      const x = e.data
      return { text: `Message from ${x.from} to ${x.to.join(', ')} accepted (${Math.ceil(x.size / 1024)} KB)`, tone: 'plain' }
    }
    case 'message.delivered': {
      const x = e.data
      return { text: `Message delivered to ${x.recipient}${x.via === 'smtp' ? '' : ` (arrived by ${x.via})`}`, tone: 'good' }
    }
    case 'message.queued': {
      const x = e.data
      return { text: `Message queued for ${x.peer}`, tone: 'plain' }
    }
    case 'message.sent': {
      const x = e.data
      return { text: `Message sent to ${x.recipient} by ${x.via}`, tone: 'good' }
    }
    case 'bundle.exported': {
      const x = e.data
      return { text: `Bundle to ${x.peer} written by ${x.via}: ${s(x.messages, 'message')}, ${Math.ceil(x.bytes / 1024)} KB`, tone: 'plain' }
    }
    case 'bundle.imported': {
      const x = e.data
      return { text: `Bundle from ${x.peer} imported by ${x.via}: ${s(x.messages, 'message')}${x.duplicates ? `, ${x.duplicates} already here` : ''}`, tone: 'good' }
    }
    case 'bundle.quarantined': {
      const x = e.data
      return { text: `Bundle ${x.file} put aside (${x.via}): ${x.reason}`, tone: 'error' }
    }
    case 'bundle.skipped': {
      const x = e.data
      return { text: `Left alone on the stick (${x.via}): ${x.reason}`, tone: 'error' }
    }
    case 'ack.received': {
      const x = e.data
      return { text: `${x.peer} confirmed ${s(x.messages, 'message')}`, tone: 'good' }
    }
    case 'transport.run': {
      const x = e.data
      const what = `${x.kind} run to ${x.peer}`
      if (x.phase === 'error') return { text: `${what} failed: ${x.error ?? 'unknown error'}`, tone: 'error' }
      if (x.phase === 'done') return { text: `${what} done`, tone: 'good' }
      return { text: `${what} ${x.phase === 'start' ? 'started' : `at ${x.done ?? 0} of ${x.total ?? '?'}`}`, tone: 'plain' }
    }
    case 'import.run': {
      const x = e.data
      const what = `Import by ${x.via}`
      if (x.phase === 'error') return { text: `${what} failed after ${s(x.messages ?? 0, 'message')}: ${x.error ?? 'unknown error'}`, tone: 'error' }
      if (x.phase === 'done') return { text: `${what} done: ${s(x.messages ?? 0, 'message')}`, tone: 'good' }
      return { text: `${what} ${x.phase === 'start' ? 'started' : `at ${s(x.messages ?? 0, 'message')}`}`, tone: 'plain' }
    }
    case 'usb.inserted':
      return { text: `USB stick plugged in at ${e.data.path}`, tone: 'plain' }
    case 'usb.offload': {
      const x = e.data
      if (x.phase === 'error') return { text: `USB offload at ${x.path} failed: ${x.error ?? ''}`, tone: 'error' }
      return { text: `USB offload at ${x.path} ${x.phase === 'done' ? 'done' : x.phase === 'start' ? 'started' : 'running'}`, tone: x.phase === 'done' ? 'good' : 'plain' }
    }
    case 'usb.removed': {
      const x = e.data
      return { text: `USB stick at ${x.path} removed${x.safe ? '' : ' before it was safe'}`, tone: x.safe ? 'plain' : 'error' }
    }
    case 'uplink.online': {
      const x = e.data
      return { text: `Link up: ${x.kind}${x.peer ? ` to ${x.peer}` : ''}`, tone: 'good' }
    }
    case 'uplink.offline': {
      const x = e.data
      return { text: `Link down: ${x.kind}${x.peer ? ` to ${x.peer}` : ''}`, tone: 'plain' }
    }
    case 'error': {
      const x = e.data
      return { text: `${x.source}: ${x.message}`, tone: 'error' }
    }
    default: {
      // A kind this page does not know yet (a newer box): shown as it came.
      const other = e as { kind: string; data: unknown }
      return { text: `${other.kind} ${JSON.stringify(other.data)}`, tone: 'plain' }
    }
  }
}

export const KIND_GROUPS: Array<{ id: string; label: string; kinds?: EventKind[] }> = [
  { id: 'all', label: 'Everything' },
  { id: 'messages', label: 'Messages', kinds: ['message.accepted', 'message.delivered', 'message.queued', 'message.sent'] },
  { id: 'bundles', label: 'Bundles and acks', kinds: ['bundle.exported', 'bundle.imported', 'bundle.quarantined', 'bundle.skipped', 'ack.received', 'import.run'] },
  { id: 'transports', label: 'Transport runs', kinds: ['transport.run', 'uplink.online', 'uplink.offline'] },
  { id: 'usb', label: 'USB', kinds: ['usb.inserted', 'usb.offload', 'usb.removed'] },
  { id: 'errors', label: 'Errors', kinds: ['error', 'bundle.quarantined', 'bundle.skipped'] },
]
