// /api/uplink and /api/dkim: how this node reaches the Internet (a gateway
// peer or an email account), the gateway's smarthost, and the DKIM keys with
// the TXT records to publish. The same UplinkService and DKIM functions as
// `outpost uplink` and `outpost dkim`. A password goes in and never comes
// back: answers say `passwordSet`, and the response schemas carry no field
// a password could leak through (Fastify drops what a schema does not name).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { UplinkError, UplinkService, UPLINK_KINDS, type UplinkView } from '../../../gateway/uplink.js'
import { DkimError, dkimDnsRecord, dkimTxtValue, ensureDkimKey, listDkimKeys, type DkimKey } from '../../../gateway/dkim.js'
import { SecretError } from '../../../gateway/secrets.js'
import { HttpError } from '../../errors.js'
import { ErrorBody } from './schemas.js'
import { AccountUplinkInput, DkimAnswer, DkimRequest, SmarthostInput, Uplink, UplinkPatch, type UplinkKind } from '../../schemas.js'

// The contract lists the kinds by hand (it may import no server code); this says it lists them all.
const _kindsAgree: readonly UplinkKind[] = UPLINK_KINDS

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
        body: UplinkPatch,
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
        body: SmarthostInput,
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
        body: AccountUplinkInput,
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
        body: DkimRequest,
        response: { 200: DkimAnswer, 400: ErrorBody },
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
