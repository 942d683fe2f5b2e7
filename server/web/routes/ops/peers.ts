// /api/self, /api/peers, /api/routes: who this node is, whom it trusts, and
// where mail for each domain goes. The same PeerService as `outpost peer`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { cardText, makeCard, parseCard, signFingerprint } from '../../../identity/card.js'
import { spkiPinOfFile } from '../../../tls/pin.js'
import type { Peer } from '../../../peers/service.js'
import { qrSvg } from '../../../accounts/credentials.js'
import { HttpError } from '../../errors.js'
import { asked, ErrorBody } from './schemas.js'
import { Peer as PeerView, PeerAdded, PeerRemoved, Route, RouteAdded, SelfCard } from '../../schemas.js'

const Name = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) })
const Domain = Type.String({ minLength: 1, maxLength: 253 })

// A classic peer (batch SMTP over NNCP) has no signing key to show.
const view = (p: Peer) => ({ name: p.name, domains: p.domains, reach: p.reach, fingerprint: p.classic ? 'classic (no Outpost keys)' : signFingerprint(p.sign), addedAt: p.addedAt })

const peers: FastifyPluginAsyncTypebox = async (app) => {
  const { node, exchange, peers } = app.outpost

  app.get('/self', { schema: { response: { 200: SelfCard } } }, async () => {
    const card = cardText(makeCard({ config: node.config, identity: exchange.identity, tlsPin: spkiPinOfFile(node.paths.tlsCert) }), exchange.identity.signPrivate)
    return { name: node.config.node.name, domain: node.config.node.domain, card, qrSvg: await qrSvg(card) }
  })

  app.get('/peers', { schema: { response: { 200: Type.Array(PeerView) } } }, async () => peers.list().map(view))

  app.post(
    '/peers',
    {
      schema: {
        body: Type.Object({ card: Type.String({ minLength: 1, maxLength: 8192, description: 'the outpost-card: text' }), replace: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: PeerAdded, 400: ErrorBody },
      },
    },
    async (req) => {
      // parseCard, never readCard: text from a browser must not name a file on the box.
      const r = await asked(() => peers.add(parseCard(req.body.card.trim()), { replace: req.body.replace === true }))
      if (r.status !== 'unchanged') app.outpost.log(`web admin: peer ${r.peer.name} ${r.status} (${signFingerprint(r.peer.sign)})`)
      return { status: r.status, peer: view(r.peer) }
    },
  )

  app.delete('/peers/:name', { schema: { params: Name, response: { 200: PeerRemoved, 404: ErrorBody } } }, async (req) => {
    if (!peers.get(req.params.name)) throw new HttpError(404, `no peer named "${req.params.name}"`)
    const r = peers.remove(req.params.name)
    app.outpost.log(`web admin: peer ${req.params.name} removed`)
    return r
  })

  app.get('/routes', { schema: { response: { 200: Type.Array(Route) } } }, async () =>
    peers
      .listRoutes()
      .filter((r) => r.active)
      .map((r) => ({ domain: r.domain, peer: r.peer, source: r.implied ? ('card' as const) : ('manual' as const) })),
  )

  app.post(
    '/routes',
    {
      schema: {
        body: Type.Object({ domain: Domain, peer: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: RouteAdded, 400: ErrorBody },
      },
    },
    async (req) => asked(() => peers.addRoute(req.body.domain, req.body.peer)),
  )

  app.delete('/routes/:domain', { schema: { params: Type.Object({ domain: Domain }), response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    try {
      peers.removeRoute(req.params.domain)
    } catch (err) {
      // No such explicit route (the message says whether a card implies one).
      throw new HttpError(404, (err as Error).message)
    }
    return reply.code(204).send(null)
  })
}

export default peers
