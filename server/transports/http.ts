// The HTTP transport: two nodes that reach each other over IP (a LAN, a
// Yggdrasil mesh, the Internet) POST bundles straight to each other's web
// server, one request per bundle, signed with the node key (see
// http-auth.ts and docs/transports/http.md). It only sends: the peer's own
// HTTP transport pushes what it has for us into our /api/peer/bundles.
import { freshSighting } from './sightings.js'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { TransportConfigError, checkConfigKeys, sendOptions, type TransportDriver } from './transport.js'
import { BUNDLES_PATH, signRequest } from './http-auth.js'
import type { Peer } from '../peers/service.js'

// Kept under the keys `transport add` takes: the stored settings are parsed again before each run.
export interface HttpConfig {
  /** The peer's base URL; when unset, the first http(s) reach address on its card. */
  url?: string
  insecure_tls: 'yes' | 'no'
}

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
  const u = new URL(base.href)
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${BUNDLES_PATH}`
  return u
}

/**
 * The URL from the settings, else where the peer was last seen on the LAN
 * (mDNS, see sightings.ts), else the first https (then http) reach address
 * on the peer's card.
 */
export function peerBaseUrl(peer: Peer, config: HttpConfig): URL {
  if (config.url) return parseBaseUrl(config.url)
  const seen = freshSighting(peer.name)
  if (seen) return parseBaseUrl(`https://${seen.address.includes(':') ? `[${seen.address}]` : seen.address}:${seen.port}`)
  const reach = peer.reach.find((r) => r.kind === 'https') ?? peer.reach.find((r) => r.kind === 'http')
  if (!reach) throw new Error(`peer "${peer.name}" has no https address on its card; give one with \`outpost transport add ${peer.name} http --set url=https://HOST:PORT\``)
  return parseBaseUrl(reach.address)
}

export interface PostResult {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

/** POSTs one body; resolves with any HTTP answer, rejects only when no answer came. */
export function postBundle(url: URL, body: Buffer, headers: Record<string, string>, opts: { insecureTls: boolean }): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
        // One connection per bundle, closed after: nothing is left open to
        // keep `outpost transport run` alive, and a LAN handshake is cheap.
        agent: false,
        // Boxes serve a self-signed certificate (server/tls/selfsigned.ts)
        // that no CA vouches for. Skipping verification is acceptable
        // because nothing rests on the TLS: the request is signed with the
        // node key, and the bundle is signed and encrypted end to end to the
        // peer's age key. TLS only hides metadata (who talks when, sizes)
        // from the wire. A box behind a real certificate can turn it on
        // with insecure_tls=no.
        // TODO: pin the peer's certificate: once cards carry the web
        // certificate's SHA-256 fingerprint, compare it with
        // socket.getPeerX509Certificate().fingerprint256 before sending.
        rejectUnauthorized: !opts.insecureTls,
      },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }))
        res.on('error', reject)
      },
    )
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error(`no progress for ${IDLE_TIMEOUT_MS / 1000} s`)))
    req.on('error', reject)
    req.end(body)
  })
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
  },
  parseConfig(raw) {
    const c = checkConfigKeys(this, raw)
    if (c.url !== undefined) parseBaseUrl(c.url)
    if (c.insecure_tls !== 'yes' && c.insecure_tls !== 'no') throw new TransportConfigError(`http: insecure_tls must be yes or no, not "${c.insecure_tls}"`)
    return { ...(c.url !== undefined ? { url: c.url } : {}), insecure_tls: c.insecure_tls }
  },
  async run(ctx, config) {
    const peer = ctx.exchange.peers.get(ctx.peer)
    if (!peer) throw new Error(`"${ctx.peer}" is no longer a peer of this node`)
    const endpoint = bundlesEndpoint(peerBaseUrl(peer, config))
    const self = ctx.node.config.node.name
    const sent = await ctx.exchange.exportPeer(ctx.peer, async (name, bytes) => {
      const headers = signRequest({ node: self, key: ctx.exchange.identity.signPrivate, body: bytes, now: ctx.exchange.clock.now() })
      let r: PostResult
      try {
        r = await postBundle(endpoint, bytes, headers, { insecureTls: config.insecure_tls === 'yes' })
      } catch (err) {
        throw new Error(`cannot reach ${ctx.peer} at ${endpoint.origin}: ${(err as Error).message} (is that node running, and is the address right?)`)
      }
      // Anything but 2xx leaves the bundle's mail and acks waiting for the next run.
      if (r.status < 200 || r.status > 299) {
        const retry = r.headers['retry-after'] ? `; it asks to retry in ${String(r.headers['retry-after'])} s` : ''
        throw new Error(`${ctx.peer} at ${endpoint.origin} refused bundle ${name} (HTTP ${r.status}): ${answerText(r)}${retry}`)
      }
    }, sendOptions(ctx, 'http'))
    return {
      sentBundles: sent.bundles,
      sentBytes: sent.bytes,
      receivedBundles: 0,
      receivedBytes: 0,
      detail: `sent ${sent.messages} messages and ${sent.acks} acks in ${sent.bundles} bundles to ${endpoint.origin}`,
    }
  },
}
