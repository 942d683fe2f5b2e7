// Finds other Outpost boxes on the same LAN by multicast DNS (DNS-SD,
// RFC 6762/6763), so that a peer that turns up nearby syncs within seconds
// instead of waiting for a transport's next tick.
//
// Each box announces one service instance:
//
//   _outpost._tcp.local             PTR  <node name>._outpost._tcp.local
//   <node name>._outpost._tcp.local SRV  0 0 <web port> outpost-<id>.local
//   <node name>._outpost._tcp.local TXT  v=1 name=<node name> fp=SHA256:…
//   outpost-<id>.local              A    <the box's LAN addresses>
//
// Discovery only TELLS: it says "a box calling itself X, with key
// fingerprint F, answered from address A". Anyone on the LAN can say that.
// It never grants trust: the caller accepts a sighting only if its name AND
// fingerprint match a peer already in the trusted peer list, and even then
// every bundle is still checked against that peer's signing key. An impostor
// can at worst make us try to sync with an address that then fails the
// peer's TLS/signature checks.
import { createHash } from 'node:crypto'
import { isIP, isIPv4 } from 'node:net'
import { networkInterfaces } from 'node:os'
import makeMdns from 'multicast-dns'
import { isNodeName } from '../../identity/name.js'

export const SERVICE_TYPE = '_outpost._tcp.local'
const SERVICE_ENUMERATION = '_services._dns-sd._udp.local'
const MDNS_PORT = 5353

/** Version of the TXT record layout; a box skips instances of another version. */
export const TXT_VERSION = '1'

// RFC 6762 §10 recommends 120 s for records that name a host and 75 min
// for the rest; we use 120 s for all, so a box that left without a goodbye
// drops out of other browsers' caches soon.
const RECORD_TTL_S = 120
// Ask again this often: a box that missed our announcement (it booted while
// the Wi-Fi was down) still finds us, and we find boxes that came back.
const QUERY_EVERY_MS = 30_000
// A (name, address) is told to onPeer once per this window: often enough
// that a peer that stays around keeps being nudged, rarely enough to spare
// the log and the scheduler.
const REPEAT_AFTER_MS = 60_000
// Bounded memory whatever a noisy or hostile LAN sends.
const MAX_REMEMBERED = 256
const MAX_ADDRESSES = 8
// Malformed packets are logged at most this often, with a count.
const WARN_EVERY_MS = 60_000

/** `SHA256:` and 43 base64 characters, as signFingerprint() in identity/card.ts makes it. */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/

export interface Sighting {
  name: string
  signFingerprint: string
  /** Where it was seen: the packet's source first (it demonstrably reaches us), then the addresses it announced. */
  addresses: string[]
  port: number
}

export interface DiscoveryOptions {
  /** This node's name, announced as the instance name. */
  name: string
  /** This node's sign key fingerprint (SHA256:…); also how our own announcements are recognised. */
  signFingerprint: string
  /** The web port peers sync with. */
  port: number
  /** Join the multicast group on this IPv4 interface address only; default all interfaces. */
  interfaceAddress?: string
  /** Called for each other box seen; see the trust note at the top of this file. */
  onPeer(seen: Sighting): void
  log?(line: string): void
  /** Overrides for tests. */
  queryEveryMs?: number
  repeatAfterMs?: number
}

export interface Discovery {
  /** Says goodbye on the LAN, closes the socket. Never throws. */
  stop(): Promise<void>
}

/** What this box announces about itself. */
export interface SelfRecord {
  name: string
  signFingerprint: string
  port: number
  /** IPv4/IPv6 addresses for the host record; may be empty (receivers then use the packet's source). */
  addresses: string[]
}

/** A resource record as multicast-dns encodes and decodes it. */
export interface MdnsRecord {
  name: string
  type: string
  ttl?: number
  flush?: boolean
  data: unknown
}

export const instanceName = (nodeName: string): string => `${nodeName}.${SERVICE_TYPE}`

/**
 * The SRV target. Derived from the key rather than the node name: a node
 * name can be 63 characters with dots (too long or too many labels for a
 * host label), and it must not collide with the Pi's own `<hostname>.local`
 * that avahi may announce.
 */
export function hostName(signFingerprint: string): string {
  return `outpost-${createHash('sha256').update(signFingerprint).digest('hex').slice(0, 16)}.local`
}

export function txtData(self: Pick<SelfRecord, 'name' | 'signFingerprint'>): string[] {
  return [`v=${TXT_VERSION}`, `name=${self.name}`, `fp=${self.signFingerprint}`]
}

/**
 * Reads TXT strings as RFC 6763 §6 says: key=value, keys case-insensitive,
 * the first occurrence of a key wins, a string without '=' is a flag.
 */
export function parseTxt(data: unknown): Map<string, string> {
  const out = new Map<string, string>()
  const items = Array.isArray(data) ? data : [data]
  for (const item of items) {
    const s = Buffer.isBuffer(item) ? item.toString('utf8') : typeof item === 'string' ? item : undefined
    if (s === undefined || s.length === 0) continue
    const eq = s.indexOf('=')
    const key = (eq === -1 ? s : s.slice(0, eq)).toLowerCase()
    if (key.length === 0 || out.has(key)) continue
    out.set(key, eq === -1 ? '' : s.slice(eq + 1))
  }
  return out
}

/** The full set of records for our instance; ttl 0 makes it a goodbye (RFC 6762 §10.1). */
export function announcement(self: SelfRecord, ttl = RECORD_TTL_S): { answers: MdnsRecord[]; additionals: MdnsRecord[] } {
  const instance = instanceName(self.name)
  const host = hostName(self.signFingerprint)
  return {
    answers: [{ name: SERVICE_TYPE, type: 'PTR', ttl, data: instance }],
    additionals: [
      // flush: these records are ours alone (RFC 6762 §10.2); the PTR is shared by all boxes.
      { name: instance, type: 'SRV', ttl, flush: true, data: { priority: 0, weight: 0, port: self.port, target: host } },
      { name: instance, type: 'TXT', ttl, flush: true, data: txtData(self) },
      ...self.addresses.map((a) => ({ name: host, type: isIPv4(a) ? 'A' : 'AAAA', ttl, flush: true, data: a })),
    ],
  }
}

const sameName = (a: unknown, b: string): boolean => typeof a === 'string' && a.toLowerCase() === b.toLowerCase()

/** The records answering a query, or undefined when it asks nothing about us. */
export function answerQuery(questions: readonly { name?: unknown; type?: unknown }[], self: SelfRecord): { answers: MdnsRecord[]; additionals: MdnsRecord[] } | undefined {
  const full = announcement(self)
  const instance = instanceName(self.name)
  const host = hostName(self.signFingerprint)
  const answers: MdnsRecord[] = []
  const add = (rs: MdnsRecord[]) => {
    for (const r of rs) if (!answers.includes(r)) answers.push(r)
  }
  const asks = (q: { type?: unknown }, ...types: string[]) => q.type === 'ANY' || types.includes(q.type as string)
  for (const q of questions) {
    if (sameName(q.name, SERVICE_TYPE) && asks(q, 'PTR')) add(full.answers)
    else if (sameName(q.name, SERVICE_ENUMERATION) && asks(q, 'PTR')) answers.push({ name: SERVICE_ENUMERATION, type: 'PTR', ttl: RECORD_TTL_S, data: SERVICE_TYPE })
    else if (sameName(q.name, instance) && asks(q, 'SRV', 'TXT')) add(full.additionals.filter((r) => r.name === instance && asks(q, r.type)))
    else if (sameName(q.name, host) && asks(q, 'A', 'AAAA')) add(full.additionals.filter((r) => r.name === host && asks(q, r.type)))
  }
  if (answers.length === 0) return undefined
  // Send the rest of the set along, so a browser needs one round trip.
  return { answers, additionals: full.additionals.filter((r) => !answers.includes(r)) }
}

function isUsableAddress(a: unknown, fromLoopback: boolean): a is string {
  if (typeof a !== 'string' || isIP(a) === 0) return false
  if (a === '0.0.0.0' || a === '::' || /^(22[4-9]|23\d|24\d|25[0-5])\./.test(a)) return false
  // Link-local IPv6 is useless without the zone it was seen on.
  if (/^fe80:/i.test(a)) return false
  // A loopback address announced over a real LAN points at the wrong box.
  if (!fromLoopback && (/^127\./.test(a) || a === '::1')) return false
  return true
}

const EVERYTHING = [
  { name: SERVICE_TYPE, type: 'PTR' },
  { name: SERVICE_ENUMERATION, type: 'PTR' },
]

export interface ParsedPacket {
  sightings: Sighting[]
  /** Node names that said goodbye (ttl 0), so they may be told again soon as they come back. */
  goodbyes: string[]
}

/**
 * The Outpost instances a response packet describes. Incomplete or
 * malformed instances (no SRV, no TXT, another TXT version, a bad name,
 * fingerprint or port) are left out: they are not ours to fix.
 */
export function parseResponse(packet: { answers?: unknown; additionals?: unknown }, sourceAddress: string): ParsedPacket {
  const records: MdnsRecord[] = []
  for (const list of [packet.answers, packet.additionals]) {
    if (!Array.isArray(list)) continue
    for (const r of list as unknown[]) {
      if (typeof r === 'object' && r !== null && typeof (r as MdnsRecord).name === 'string' && typeof (r as MdnsRecord).type === 'string') records.push(r as MdnsRecord)
    }
  }
  const suffix = `.${SERVICE_TYPE}`
  const instances = new Set<string>()
  for (const r of records) {
    if (r.type === 'PTR' && sameName(r.name, SERVICE_TYPE) && typeof r.data === 'string' && r.data.toLowerCase().endsWith(suffix)) instances.add(r.data.toLowerCase())
    // Some responders send SRV/TXT without the PTR (e.g. answering a direct SRV question).
    if ((r.type === 'SRV' || r.type === 'TXT') && r.name.toLowerCase().endsWith(suffix)) instances.add(r.name.toLowerCase())
  }
  const fromLoopback = /^127\./.test(sourceAddress) || sourceAddress === '::1'
  const sightings: Sighting[] = []
  const goodbyes: string[] = []
  for (const instance of instances) {
    const srv = records.find((r) => r.type === 'SRV' && sameName(r.name, instance))
    const txt = records.find((r) => r.type === 'TXT' && sameName(r.name, instance))
    if (!srv || !txt) continue
    const fields = parseTxt(txt.data)
    const name = fields.get('name')
    const fp = fields.get('fp')
    if (fields.get('v') !== TXT_VERSION || !isNodeName(name) || fp === undefined || !FINGERPRINT.test(fp)) continue
    if (srv.ttl === 0 || txt.ttl === 0) {
      goodbyes.push(name)
      continue
    }
    const d = srv.data as { port?: unknown; target?: unknown } | null
    if (typeof d !== 'object' || d === null || typeof d.port !== 'number' || !Number.isInteger(d.port) || d.port < 1 || d.port > 65535) continue
    const addresses: string[] = []
    if (isUsableAddress(sourceAddress, true)) addresses.push(sourceAddress)
    for (const r of records) {
      if ((r.type !== 'A' && r.type !== 'AAAA') || r.ttl === 0 || !sameName(r.name, String(d.target))) continue
      if (isUsableAddress(r.data, fromLoopback) && !addresses.includes(r.data)) addresses.push(r.data)
      if (addresses.length >= MAX_ADDRESSES) break
    }
    if (addresses.length === 0) continue
    sightings.push({ name, signFingerprint: fp, addresses, port: d.port })
  }
  return { sightings, goodbyes }
}

/**
 * Remembers which (name, address) pairs were told recently, so onPeer is
 * not called for every packet. Bounded: the oldest entries go first.
 */
export class SightingMemory {
  private seen = new Map<string, { until: number; fp: string; port: number }>()

  constructor(
    private readonly repeatAfterMs = REPEAT_AFTER_MS,
    private readonly max = MAX_REMEMBERED,
  ) {}

  get size(): number {
    return this.seen.size
  }

  /** true when the sighting brings a (name, address) not told within the window, or a new fingerprint or port. */
  isNews(s: Sighting, now = Date.now()): boolean {
    let news = false
    for (const a of s.addresses) {
      const key = `${s.name}\n${a}`
      const e = this.seen.get(key)
      if (!e || e.until <= now || e.fp !== s.signFingerprint || e.port !== s.port) news = true
    }
    if (!news) return false
    for (const a of s.addresses) {
      const key = `${s.name}\n${a}`
      // Re-inserting moves the key to the end, so eviction takes the stalest.
      this.seen.delete(key)
      this.seen.set(key, { until: now + this.repeatAfterMs, fp: s.signFingerprint, port: s.port })
    }
    while (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value as string)
    return true
  }

  forget(name: string): void {
    for (const key of [...this.seen.keys()]) if (key.startsWith(`${name}\n`)) this.seen.delete(key)
  }
}

/** The box's own LAN addresses for the host record: the given interface, or every non-internal IPv4 one. */
function ownAddresses(interfaceAddress: string | undefined): string[] {
  if (interfaceAddress && interfaceAddress !== '0.0.0.0') return [interfaceAddress]
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal && !out.includes(i.address)) out.push(i.address)
  }
  return out.slice(0, MAX_ADDRESSES)
}

// Our records are typed loosely (MdnsRecord) because incoming ones are
// untrusted and checked field by field; outgoing ones are built to the shape
// dns-packet encodes, so this is the one place they meet its stricter types.
const wire = (p: object) => p as unknown as makeMdns.ResponseOutgoingPacket

export function startDiscovery(opts: DiscoveryOptions): Discovery {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const memory = new SightingMemory(opts.repeatAfterMs ?? REPEAT_AFTER_MS)
  const self = (): SelfRecord => ({ name: opts.name, signFingerprint: opts.signFingerprint, port: opts.port, addresses: ownAddresses(opts.interfaceAddress) })
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false
  let warnedAt = 0
  let unwarned = 0
  let replyPending = false
  let lastReplyAt = 0

  const mdns = makeMdns(
    opts.interfaceAddress
      ? // Join the group on that interface but bind the wildcard: a socket
        // bound to a unicast address never receives multicast on Linux.
        { interface: opts.interfaceAddress, bind: '0.0.0.0' }
      : {},
  )

  // A LAN may carry anything on 5353: log bad packets, but rarely, so a
  // broken or hostile device cannot flood the log.
  const warn = (what: string) => {
    const now = Date.now()
    if (now - warnedAt < WARN_EVERY_MS) {
      unwarned++
      return
    }
    log(`mdns: ${what}${unwarned ? ` (and ${unwarned} more such since the last report)` : ''}`)
    warnedAt = now
    unwarned = 0
  }

  const sent = (what: string) => (err: Error | null | undefined) => {
    if (err && !stopped) log(`mdns: could not send ${what}: ${err.message}; LAN discovery goes on, peers are still synced on their transports' schedules`)
  }

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t)
      if (!stopped) fn()
    }, ms)
    t.unref()
    timers.add(t)
  }

  const announce = () => mdns.respond(wire(announcement(self())), sent('the announcement'))
  const query = () => mdns.query({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }] }, sent('a query'))

  mdns.on('error', (err: Error) => {
    // Bind failures (EACCES, EADDRINUSE) end up here: without the socket
    // there is no discovery, but the node runs on and syncs by schedule.
    log(`mdns: LAN discovery is off: ${err.message}. Is another program holding UDP port ${MDNS_PORT} without SO_REUSEADDR? Peers are still synced on their transports' schedules`)
  })
  mdns.on('warning', (err: Error) => warn(`ignored a packet or interface: ${err.message}`))

  mdns.on('query', (packet, rinfo) => {
    try {
      const reply = answerQuery(Array.isArray(packet.questions) ? packet.questions : [], self())
      if (!reply) return
      if (rinfo.port !== MDNS_PORT) {
        // A one-shot (legacy) resolver: it waits for a unicast reply on its
        // own port, with short TTLs and no cache-flush bit (RFC 6762 §6.7).
        const legacy = (rs: MdnsRecord[]) => rs.map((r) => ({ ...r, ttl: Math.min(r.ttl ?? 10, 10), flush: false }))
        mdns.respond(wire({ id: packet.id, questions: packet.questions, answers: legacy(reply.answers), additionals: legacy(reply.additionals) }), { port: rinfo.port, address: rinfo.address }, sent('a reply'))
        return
      }
      // One multicast reply pending at a time and at most one a second
      // (RFC 6762 §6): a flood of queries costs neither timers nor traffic,
      // and the reply sent covers every query that came in meanwhile.
      if (replyPending) return
      replyPending = true
      // A random 20–120 ms wait, so boxes answering the same question do not collide (RFC 6762 §6).
      const wait = Math.max(20 + Math.floor(Math.random() * 100), lastReplyAt + 1000 - Date.now())
      later(wait, () => {
        replyPending = false
        lastReplyAt = Date.now()
        // The whole set, not just what this query asked: it stands for all
        // the queries that came in while it was pending.
        mdns.respond(wire(answerQuery(EVERYTHING, self())!), sent('a reply'))
      })
    } catch (err) {
      warn(`ignored a query: ${(err as Error).message}`)
    }
  })

  mdns.on('response', (packet, rinfo) => {
    try {
      const { sightings, goodbyes } = parseResponse(packet, rinfo.address)
      for (const name of goodbyes) memory.forget(name)
      for (const s of sightings) {
        // Our own announcements come back to us through the multicast loop.
        if (s.signFingerprint === opts.signFingerprint || !memory.isNews(s)) continue
        try {
          opts.onPeer(s)
        } catch (err) {
          log(`mdns: handling the sighting of "${s.name}" at ${s.addresses.join(', ')} failed: ${(err as Error).message}`)
        }
      }
    } catch (err) {
      warn(`ignored a response from ${rinfo.address}: ${(err as Error).message}`)
    }
  })

  mdns.on('ready', () => {
    if (stopped) return
    // Announce twice, a second apart (RFC 6762 §8.3), and ask once: boxes
    // already up answer, boxes starting later hear the announcement. No
    // probing for a unique name: our browser reads each packet on its own
    // and tells boxes apart by fingerprint, so a second box with the same
    // name confuses at worst a generic DNS-SD browser's list.
    announce()
    query()
    later(1000, announce)
    const every = opts.queryEveryMs ?? QUERY_EVERY_MS
    const tick = () => {
      query()
      later(every, tick)
    }
    later(every, tick)
  })

  let stopping: Promise<void> | undefined
  return {
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        stopped = true
        for (const t of timers) clearTimeout(t)
        timers.clear()
        const close = () => mdns.destroy(() => resolve())
        // A goodbye (ttl 0) lets other boxes drop us now rather than after 120 s.
        // Bounded wait: a socket that never bound must not hang stop().
        const fallback = setTimeout(close, 500)
        try {
          mdns.respond(wire(announcement(self(), 0)), () => {
            clearTimeout(fallback)
            close()
          })
        } catch {
          clearTimeout(fallback)
          close()
        }
      })
      return stopping
    },
  }
}
