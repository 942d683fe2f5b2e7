// The HTTP transport: two nodes that reach each other over IP (a LAN, a
// Yggdrasil mesh, the Internet) POST bundles straight to each other's web
// server, one request per bundle, signed with the node key (see
// http-auth.ts and docs/transports/http.md). It only sends: the peer's own
// HTTP transport pushes what it has for us into our /api/peer/bundles.
import { freshSighting } from './discovery/sightings.js'
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { TransportConfigError, checkConfigKeys, sendOptions, type TransportDriver } from './transport.js'
import { BUNDLES_PATH, PICKUP_PATH, PICKUP_TOKEN_HEADER, pickupDonePath, signRequest } from './http-auth.js'
import { unframeBundles } from './pickup.js'
import type { Peer } from '../peers/service.js'
import type { TLSSocket } from 'node:tls'
import { spkiPin } from '../tls/pin.js'
import { OutpostError } from '../base/errors.js'
import { crashPoint } from '../base/crash-point.js'
import { hopMark, hopTracing } from '../base/hop-trace.js'

// Kept under the keys `transport add` takes: the stored settings are parsed again before each run.
export interface HttpConfig {
  /** The peer's base URL; when unset, the first http(s) reach address on its card. */
  url?: string
  insecure_tls: 'yes' | 'no'
  /** yes: after sending, fetch what waits for us there (the peer cannot reach us: an off-grid node and its gateway). */
  pickup?: 'yes' | 'no'
}

/** The largest pickup answer read: a backlog after weeks apart, bounded. */
const MAX_PICKUP_BYTES = 512 * 1024 * 1024

/** Past this long without a byte moving, a POST is given up (and retried by the next run). */
const IDLE_TIMEOUT_MS = 60_000

/** Checks a base URL: http or https, a host, no credentials, query or fragment. IPv6 literals (Yggdrasil's 200::/7) go in brackets. */
export function parseBaseUrl(text: string): URL {
  let u: URL
  try {
    u = new URL(text)
  } catch {
    throw new TransportConfigError(`http: url "${text}" is not a URL; give the peer's web address, e.g. https://192.168.1.20:8443 or https://[200:1234::1]:8443`)
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TransportConfigError(`http: url "${text}" must start with https:// or http://`)
  if (!u.hostname) throw new TransportConfigError(`http: url "${text}" has no host`)
  if (u.username || u.password) throw new TransportConfigError(`http: url "${text}" must not carry a user or password: requests are signed with the node key instead`)
  if (u.search || u.hash) throw new TransportConfigError(`http: url "${text}" must not have a ?query or #fragment`)
  return u
}

/** Where bundles for this peer go: its base URL (a path prefix is kept, for a reverse proxy) plus /api/peer/bundles. */
export function bundlesEndpoint(base: URL): URL {
  return peerEndpoint(base, BUNDLES_PATH)
}

/** A peer route (`/api/peer/…`) under the peer's base URL, which may carry a path prefix of its own. */
export function peerEndpoint(base: URL, path: string): URL {
  const u = new URL(base.href)
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${path}`
  return u
}

/** The pin of the TLS key the peer's web server answers with, from its card; undefined for a card made before cards carried one. */
export function peerTlsPin(peer: Peer): string | undefined {
  return peer.reach.find((r) => r.tls)?.tls
}

/** One place to send to: a base URL, and the TLS key that must answer there (none: any). */
export interface HttpTarget {
  base: URL
  pin: string | undefined
  /** Where the address came from, for the error a person reads. */
  from: 'url' | 'mdns' | 'card'
}

/**
 * Where to send, in order: the URL from the settings; else where the peer
 * was last seen on the LAN (mDNS, see sightings.ts), then each https
 * (then http) reach address on its card. A sighting is only used for a
 * peer whose card pins its TLS key: anyone on the LAN can announce the
 * peer's name and fingerprint, and only the key tells the real box from a
 * stranger. With insecure_tls=no a CA vouches for the certificate instead.
 */
export function peerTargets(peer: Peer, config: HttpConfig): HttpTarget[] {
  const pin = config.insecure_tls === 'yes' ? peerTlsPin(peer) : undefined
  if (config.url) return [{ base: parseBaseUrl(config.url), pin, from: 'url' }]
  const out: HttpTarget[] = []
  const seen = freshSighting(peer.name)
  if (seen && pin) out.push({ base: parseBaseUrl(`https://${seen.address.includes(':') ? `[${seen.address}]` : seen.address}:${seen.port}`), pin, from: 'mdns' })
  // Every address on the card, https before http, in the card's order (its LAN address, then its Yggdrasil one).
  for (const kind of ['https', 'http']) for (const r of peer.reach.filter((x) => x.kind === kind)) out.push({ base: parseBaseUrl(r.address), pin, from: 'card' })
  if (!out.length) throw new Error(`peer "${peer.name}" has no https address on its card; give one with \`outpost transport add ${peer.name} http --set url=https://HOST:PORT\``)
  return out
}

/** The URL the transport sends to first (see peerTargets). */
export function peerBaseUrl(peer: Peer, config: HttpConfig): URL {
  return peerTargets(peer, config)[0]!.base
}

/** No answer came from this address (refused, timed out, cut): another address of the peer may do. */
export class PeerUnreachableError extends OutpostError {
  override name = 'PeerUnreachableError'
}

/** The server answered with another TLS key than the peer's card pins: nothing was sent. */
export class TlsPinError extends OutpostError {
  override name = 'TlsPinError'
}

/**
 * How long a connection to a peer stays open after its last request. Under
 * the web server's own keep-alive (Fastify's 72 s), so that the server never
 * closes a connection the sender is about to use; a little longer than an
 * `event` transport's poll, so that a conversation keeps one connection.
 */
export const PEER_KEEP_ALIVE_MS = 30_000

/**
 * One connection pool per peer address, TLS mode and pinned key. A LAN hop
 * used to open a new TCP connection and TLS handshake for every run (about
 * 3 ms on loopback, two or three round trips more on a real network); a
 * connection kept open is used again. Its key was checked against the pin
 * when it was opened, and is checked again before each request written on
 * it (postBundle). A pool never mixes pins: a peer whose card now pins
 * another key gets a pool of its own. Idle sockets do not keep a process
 * alive (Node unrefs them), so `outpost transport run` still exits.
 */
const agents = new Map<string, HttpAgent | HttpsAgent>()

function agentFor(url: URL, opts: { insecureTls: boolean; pin?: string }): HttpAgent | HttpsAgent {
  const key = `${url.protocol}//${url.host} ${opts.insecureTls ? 'any-ca' : 'ca'} ${opts.pin ?? '-'}`
  let agent = agents.get(key)
  if (!agent) {
    const o = { keepAlive: true, timeout: PEER_KEEP_ALIVE_MS }
    // No TLS session resumption: a resumed handshake shows no certificate,
    // and the pin is checked on the certificate of every new connection.
    agent = url.protocol === 'https:' ? new HttpsAgent({ ...o, maxCachedSessions: 0 }) : new HttpAgent(o)
    agents.set(key, agent)
  }
  return agent
}

/** Closes every kept-open connection to peers (a node that stops, a test that ends). */
export function closePeerConnections(): void {
  for (const a of agents.values()) a.destroy()
  agents.clear()
}

/**
 * A kept-open connection that the peer closed just as it was used fails
 * before any answer; the request is sent again on a new one. Safe to repeat:
 * a bundle that did arrive is answered `duplicate` the second time, and a
 * pickup is confirmed by its token.
 */
/** The pin each open connection's TLS key was found to match. */
const pinChecked = new WeakMap<TLSSocket, string>()

const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE'])
const STALE_RETRIES = 2

export interface PostResult {
  status: number
  headers: IncomingHttpHeaders
  body: string
  raw: Buffer
}

/** POSTs one body; resolves with any HTTP answer, rejects only when no answer came. */
export async function postBundle(url: URL, body: Buffer, headers: Record<string, string>, opts: { insecureTls: boolean; pin?: string }): Promise<PostResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await postOnce(url, body, headers, opts)
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { reusedSocket?: boolean }
      if (!e.reusedSocket || !STALE_SOCKET.has(e.code ?? '') || attempt >= STALE_RETRIES) throw err
    }
  }
}

function postOnce(url: URL, body: Buffer, headers: Record<string, string>, opts: { insecureTls: boolean; pin?: string }): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
        // Kept open for the next run to this peer (see agentFor).
        agent: agentFor(url, opts),
        // Boxes serve a self-signed certificate (server/tls/selfsigned.ts)
        // that no CA vouches for. Skipping verification is acceptable
        // because nothing rests on the TLS: the request is signed with the
        // node key, and the bundle is signed and encrypted end to end to the
        // peer's age key. TLS only hides metadata (who talks when, sizes)
        // from the wire. A box behind a real certificate can turn it on
        // with insecure_tls=no.
        // Where the peer's card pins its TLS key, the key is checked on
        // the handshake, before a byte of the request (headers included)
        // is written: see the socket listener below.
        rejectUnauthorized: !opts.insecureTls,
      },
      (res) => {
        hopMark('http.answered', String(res.statusCode))
        const parts: Buffer[] = []
        let size = 0
        res.on('data', (d: Buffer) => {
          size += d.length
          if (size > MAX_PICKUP_BYTES) return req.destroy(new Error(`the answer is larger than ${MAX_PICKUP_BYTES} bytes`))
          parts.push(d)
        })
        res.on('end', () => {
          const raw = Buffer.concat(parts)
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw })
        })
        res.on('error', reject)
      },
    )
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no progress for ${IDLE_TIMEOUT_MS / 1000} s`)))
    req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })))
    if (hopTracing()) traceRequest(req)
    if (!opts.pin || url.protocol !== 'https:') return void req.end(body)
    const pin = opts.pin
    // Node writes the request only at end(): until the server's key is
    // known to be the pinned one, nothing is sent. A kept-open connection
    // is checked again before each request: its key is the one its
    // handshake gave, and a connection whose check failed is destroyed,
    // never pooled.
    req.once('socket', (socket) => {
      const tls = socket as TLSSocket
      const check = () => {
        const cert = tls.getPeerX509Certificate()
        const got = cert ? spkiPin(cert) : '(no certificate)'
        if (got !== pin) return req.destroy(new TlsPinError(`${url.host} answered with TLS key ${got}, not ${pin} that the peer's card pins; nothing was sent (a stranger on the network, or the peer's certificate was replaced: then add its new card)`))
        pinChecked.set(tls, pin)
        req.end(body)
      }
      // A kept-open connection: Node no longer hands out the peer's
      // certificate once a connection went back to its pool, so what
      // counts is that this very connection passed the check for this pin
      // (the key a TLS 1.3 connection was opened with cannot change).
      if (req.reusedSocket && pinChecked.get(tls) === pin) return void req.end(body)
      if (tls.encrypted && !tls.connecting && tls.getPeerX509Certificate()) check()
      else if (tls.connecting) tls.once('secureConnect', check)
      else req.destroy(new TlsPinError(`${url.host}: a kept-open connection whose TLS key was not checked against ${pin}; nothing was sent`))
    })
  })
}

/** Marks the request's steps in the hop trace (OUTPOST_HOP_TRACE). */
function traceRequest(req: ClientRequest): void {
  req.once('socket', (socket) => {
    const fresh = socket.connecting
    hopMark('http.socket', fresh ? 'new' : 'reused')
    if (!fresh) return
    socket.once('connect', () => hopMark('http.connected'))
    socket.once('secureConnect', () => hopMark('http.tls'))
  })
  req.once('finish', () => hopMark('http.sent'))
}

/** The reason in a JSON answer ({error} or {reason}), else the start of the body. */
function answerText(r: PostResult): string {
  try {
    const j = JSON.parse(r.body) as { error?: unknown; reason?: unknown }
    if (typeof j.error === 'string') return j.error
    if (typeof j.reason === 'string') return j.reason
  } catch {
    /* not JSON: a proxy's page, say */
  }
  return r.body.slice(0, 200).trim() || '(no body)'
}

export const httpTransport: TransportDriver<HttpConfig> = {
  kind: 'http',
  doc: "Bundles go straight to the peer's web server over IP: a LAN, a Yggdrasil mesh (an address in 200::/7) or the Internet. Each request is signed with this node's key; see docs/transports/http.md.",
  // On a LAN mail should leave at once, not at the next tick.
  defaultSchedule: 'event',
  configKeys: {
    url: { doc: "the peer's web address, e.g. https://192.168.1.20:8443 or https://[200:1234::1]:8443 (default: the https address on its card)" },
    insecure_tls: { doc: "yes: accept the peer's self-signed certificate (requests and bundles are signed and encrypted anyway); no: require a certificate a CA vouches for", default: 'yes' },
    pickup: { doc: 'yes: after sending, fetch the bundles waiting for this node there (for a gateway that cannot reach this node: NAT, a link that comes and goes)', default: 'no' },
  },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    if (c.url !== undefined) parseBaseUrl(c.url)
    if (c.insecure_tls !== 'yes' && c.insecure_tls !== 'no') throw new TransportConfigError(`http: insecure_tls must be yes or no, not "${c.insecure_tls}"`)
    if (c.pickup !== 'yes' && c.pickup !== 'no') throw new TransportConfigError(`http: pickup must be yes or no, not "${c.pickup}"`)
    return { ...(c.url !== undefined ? { url: c.url } : {}), insecure_tls: c.insecure_tls, pickup: c.pickup }
  },
  async run(ctx, config) {
    const peer = ctx.exchange.peers.get(ctx.peer)
    if (!peer) throw new Error(`"${ctx.peer}" is no longer a peer of this node`)
    const self = ctx.node.config.node.name
    const insecureTls = config.insecure_tls === 'yes'
    const targets = peerTargets(peer, config)
    let at = 0
    const pushTo = (t: HttpTarget) =>
      ctx.exchange.exportPeer(ctx.peer, async (name, bytes) => {
        const endpoint = bundlesEndpoint(t.base)
        const headers = signRequest({ node: self, key: ctx.exchange.identity.signPrivate, body: bytes, now: ctx.exchange.clock.now() })
        let r: PostResult
        try {
          r = await postBundle(endpoint, bytes, headers, { insecureTls, pin: t.pin })
        } catch (err) {
          if (err instanceof TlsPinError) throw err
          throw new PeerUnreachableError(`cannot reach ${ctx.peer} at ${endpoint.origin}: ${(err as Error).message} (is that node running, and is the address right?)`, { cause: err })
        }
        // Anything but 2xx leaves the bundle's mail and acks waiting for the next run.
        if (r.status < 200 || r.status > 299) {
          const retry = r.headers['retry-after'] ? `; it asks to retry in ${String(r.headers['retry-after'])} s` : ''
          throw new Error(`${ctx.peer} at ${endpoint.origin} refused bundle ${name} (HTTP ${r.status}): ${answerText(r)}${retry}`)
        }
      }, sendOptions(ctx, 'http'))
    // A LAN sighting whose server has another key than the card pins is a
    // stranger (or a stale address), and an address that does not answer
    // (the card's LAN address seen from across a Yggdrasil mesh) is no way
    // there: the next place is tried, and nothing went to the stranger. The
    // place that answered is kept for the rest of the run.
    const viaTargets = async <T>(step: (t: HttpTarget) => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await step(targets[at]!)
        } catch (err) {
          if (!(err instanceof TlsPinError || err instanceof PeerUnreachableError) || at === targets.length - 1) throw err
          at++
          ctx.log(`http → ${ctx.peer}: ${err.message}; trying ${targets[at]!.from === 'card' ? `the card's address ${targets[at]!.base.origin}` : 'the next address'}`)
        }
      }
    }
    const push = () => viaTargets(pushTo)
    const sent = await push()
    let received = { bundles: 0, bytes: 0, messages: 0 }
    if (config.pickup === 'yes') {
      received = await viaTargets((t) => pickup(ctx, t.base, self, insecureTls, t.pin))
      // What came in is owed an ack: send it now, while the link is up.
      if (received.bundles) {
        const acks = await push()
        sent.bundles += acks.bundles
        sent.bytes += acks.bytes
        sent.acks += acks.acks
        sent.messages += acks.messages
      }
    }
    return {
      sentBundles: sent.bundles,
      sentBytes: sent.bytes,
      receivedBundles: received.bundles,
      receivedBytes: received.bytes,
      detail: `sent ${sent.messages} messages and ${sent.acks} acks in ${sent.bundles} bundles to ${bundlesEndpoint(targets[at]!.base).origin}${config.pickup === 'yes' ? `; picked up ${received.bundles} bundles` : ''}`,
    }
  },
}

/**
 * Fetches the bundles waiting for this node at the peer, imports them, and
 * then confirms the answer: until the peer hears that, it counts none of it
 * as handed over and sends it all again with the next pickup (an answer cut
 * by a dropped link loses nothing, and copies that came twice are dropped
 * by message key on import).
 */
async function pickup(ctx: Parameters<TransportDriver<HttpConfig>['run']>[0], base: URL, self: string, insecureTls: boolean, pin: string | undefined): Promise<{ bundles: number; bytes: number; messages: number }> {
  const signed = (path: string) => signRequest({ node: self, key: ctx.exchange.identity.signPrivate, body: Buffer.alloc(0), path, now: ctx.exchange.clock.now() })
  const u = peerEndpoint(base, PICKUP_PATH)
  let r: PostResult
  try {
    r = await postBundle(u, Buffer.alloc(0), signed(PICKUP_PATH), { insecureTls, pin })
  } catch (err) {
    if (err instanceof TlsPinError) throw err
    throw new PeerUnreachableError(`cannot pick up from ${ctx.peer} at ${u.origin}: ${(err as Error).message}`, { cause: err })
  }
  if (r.status !== 200) throw new Error(`${ctx.peer} at ${u.origin} refused the pickup (HTTP ${r.status}): ${answerText(r)}`)
  let bundles = 0
  let messages = 0
  for (const b of unframeBundles(r.raw, MAX_PICKUP_BYTES)) {
    const o = await ctx.exchange.importBundle(b.bytes, b.name, { via: 'http' })
    bundles++
    if (o.kind === 'imported') messages += o.delivered + o.forwarded
    if (o.kind === 'deferred') throw new Error(`a bundle picked up from ${ctx.peer} could not be imported yet: ${o.reason}; it comes again with the next pickup`)
  }
  crashPoint('pickup.imported')
  const token = r.headers[PICKUP_TOKEN_HEADER]
  if (typeof token === 'string' && /^[0-9a-f]{32}$/.test(token)) {
    const path = pickupDonePath(token)
    try {
      const c = await postBundle(peerEndpoint(base, path), Buffer.alloc(0), signed(path), { insecureTls, pin })
      if (c.status !== 200) ctx.log(`http → ${ctx.peer}: the pickup was not confirmed (HTTP ${c.status}: ${answerText(c)}); its bundles come again with the next pickup, and their copies are dropped here`)
    } catch (err) {
      // Everything is imported here; the peer sends it again, and the copies are dropped.
      ctx.log(`http → ${ctx.peer}: the pickup could not be confirmed: ${(err as Error).message}; its bundles come again with the next pickup, and their copies are dropped here`)
    }
  }
  return { bundles, bytes: r.raw.length, messages }
}
