// /api/uplink and /api/dkim: how this node reaches the Internet (a gateway
// peer or an email account), the gateway's smarthost, and the DKIM keys with
// the TXT records to publish. The same UplinkService and DKIM functions as
// `outpost uplink` and `outpost dkim`. A password goes in and never comes
// back: answers say `passwordSet`, and the response schemas carry no field
// a password could leak through (Fastify drops what a schema does not name).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { UplinkError, UplinkService, UPLINK_KINDS, type UplinkView } from '../../../gateway/uplink.js'
import { DkimError, dkimDnsRecord, dkimTxtValue, ensureDkimKey, listDkimKeys, type DkimKey } from '../../../gateway/dkim.js'
import { SecretError } from '../../../gateway/secrets.js'
import { HttpError } from '../../errors.js'
import { ErrorBody } from './schemas.js'

const Kind = Type.Union(UPLINK_KINDS.map((k) => Type.Literal(k)))
const Host = Type.String({ minLength: 1, maxLength: 253 })
const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const Password = Type.String({ minLength: 1, maxLength: 1024 })

const Dkim = Type.Object({
  domain: Type.String(),
  selector: Type.String(),
  /** Where the record goes: SELECTOR._domainkey.DOMAIN */
  name: Type.String(),
  /** The TXT value as one string (what a DNS provider's form takes). */
  value: Type.String(),
  /** The zone-file line, exactly as `outpost dkim` prints it. */
  record: Type.String(),
})

const Uplink = Type.Object({
  gateway: Type.Boolean({ description: 'this node is a gateway ([gateway] enabled in outpost.toml)' }),
  kind: Kind,
  peer: Type.Union([Type.String(), Type.Null()]),
  probeSeconds: Type.Integer(),
  online: Type.Union([Type.Boolean(), Type.Null()], { description: 'what the last probe found; null: not probed yet' }),
  lastOnline: Type.Union([Type.Number(), Type.Null()]),
  smarthost: Type.Union([Type.Object({ host: Type.String(), port: Type.Integer(), user: Type.String(), passwordSet: Type.Boolean() }), Type.Null()]),
  account: Type.Union([
    Type.Object({
      address: Type.String(),
      smtpHost: Type.String(),
      smtpPort: Type.Integer(),
      imapHost: Type.String(),
      imapPort: Type.Integer(),
      user: Type.String(),
      insecureTls: Type.Boolean(),
      passwordSet: Type.Boolean(),
    }),
    Type.Null(),
  ]),
  dkim: Type.Array(Dkim),
})

const dkimView = (k: DkimKey) => ({ domain: k.domain, selector: k.selector, name: `${k.selector}._domainkey.${k.domain}`, value: dkimTxtValue(k), record: dkimDnsRecord(k) })

/** A change a person asked for that the service refused: 400 with the service's own words. */
function refused<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof UplinkError || err instanceof DkimError || err instanceof SecretError) throw new HttpError(400, err.message)
    throw err
  }
}

const uplink: FastifyPluginAsyncTypebox = async (app) => {
  const { node, peers } = app.outpost
  const service = new UplinkService(node.db, node.paths.keysDir)
  // Built field by field (never a spread of the stored setting), so a sealed password cannot ride along.
  const view = (v: UplinkView = service.describe()) => ({
    gateway: node.config.gateway.enabled,
    kind: v.kind,
    peer: v.peer,
    probeSeconds: v.probeSeconds,
    online: v.online,
    lastOnline: v.lastOnline,
    smarthost: v.smarthost ? { host: v.smarthost.host, port: v.smarthost.port, user: v.smarthost.user, passwordSet: true } : null,
    account: v.account
      ? { address: v.account.address, smtpHost: v.account.smtpHost, smtpPort: v.account.smtpPort, imapHost: v.account.imapHost, imapPort: v.account.imapPort, user: v.account.user, insecureTls: v.account.insecureTls, passwordSet: true }
      : null,
    dkim: listDkimKeys(node.paths.keysDir).map(dkimView),
  })

  app.get('/uplink', { schema: { response: { 200: Uplink } } }, async () => view())

  app.patch(
    '/uplink',
    {
      schema: {
        body: Type.Object(
          { kind: Type.Optional(Kind), peer: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), probeSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Uplink, 400: ErrorBody },
      },
    },
    async (req) => {
      const v = refused(() => service.configure(req.body, (n) => peers.get(n) !== undefined))
      app.outpost.log(`web admin: uplink set to ${v.kind}${v.peer ? ` (gateway peer ${v.peer})` : ''}, probed every ${v.probeSeconds} s`)
      return view(v)
    },
  )

  app.put(
    '/uplink/smarthost',
    {
      schema: {
        body: Type.Object({ host: Host, port: Port, user: Type.String({ minLength: 1, maxLength: 320 }), password: Password }, { additionalProperties: false }),
        response: { 200: Uplink, 400: ErrorBody },
      },
    },
    async (req) => {
      const v = refused(() => service.setSmarthost(req.body))
      app.outpost.log(`web admin: smarthost set to ${v.smarthost!.host}:${v.smarthost!.port} as ${v.smarthost!.user} (password stored encrypted)`)
      return view(v)
    },
  )

  app.delete('/uplink/smarthost', { schema: { response: { 200: Uplink } } }, async () => {
    service.clearSmarthost()
    app.outpost.log('web admin: smarthost removed; mail for the Internet goes by MX')
    return view()
  })

  app.put(
    '/uplink/account',
    {
      schema: {
        body: Type.Object(
          {
            address: Type.String({ minLength: 3, maxLength: 320 }),
            smtpHost: Host,
            smtpPort: Port,
            imapHost: Host,
            imapPort: Port,
            user: Type.Optional(Type.String({ maxLength: 320 })),
            password: Password,
            insecureTls: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Uplink, 400: ErrorBody },
      },
    },
    async (req) => {
      const b = req.body
      const v = refused(() => service.setAccount({ ...b, user: b.user ?? '', insecureTls: b.insecureTls === true }))
      app.outpost.log(`web admin: email account ${v.account!.address} set as a possible uplink (password stored encrypted)`)
      return view(v)
    },
  )

  app.delete('/uplink/account', { schema: { response: { 200: Uplink } } }, async () => {
    service.clearAccount()
    app.outpost.log('web admin: email account removed as the uplink')
    return view()
  })

  app.post(
    '/dkim',
    {
      schema: {
        body: Type.Object(
          {
            domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: "default: the node's domain" })),
            rotate: Type.Optional(Type.Boolean()),
            selector: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ created: Type.Boolean(), key: Dkim }), 400: ErrorBody },
      },
    },
    async (req) => {
      const { key, created } = refused(() => ensureDkimKey(node.paths.keysDir, req.body.domain ?? node.config.node.domain, { selector: req.body.selector, rotate: req.body.rotate === true }))
      if (created) app.outpost.log(`web admin: new DKIM key for ${key.domain}, selector ${key.selector}; the node signs with it after its next start`)
      return { created, key: dkimView(key) }
    },
  )
}

export default uplink
