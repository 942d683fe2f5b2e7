// /api/accounts and /api/invites: the admin's side of who may use the box.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { accountCredentials, mailboxBytes, qrSvg } from '../../accounts/credentials.js'
import { ACCOUNT_PAGE, ACCOUNT_PAGE_MAX, AccountCursorError } from '../../accounts/service.js'
import { InviteService, type Invite as StoredInvite } from '../../accounts/invites.js'
import { normaliseAddress } from '../../accounts/address.js'
import { removeAccount } from '../../accounts/mailbox.js'
import { exec } from '../../base/exec.js'
import { asBadRequest, HttpError } from '../errors.js'
import { Account, Accounts, AccountsParams, Credentials, ErrorBody, Invite, NewAccount, NewInvite, AccountPassword } from '../schemas.js'
import type { NodeConfig } from '../../config/schema.js'

// The contract's page bounds are the account service's own.
if (AccountsParams.properties.limit.maximum !== ACCOUNT_PAGE_MAX || AccountsParams.properties.limit.default !== ACCOUNT_PAGE) {
  throw new Error('the account page bounds of the API contract and of the account service differ')
}

const AddressParams = Type.Object({ address: Type.String({ minLength: 3, maxLength: 320 }) })
/** Where a group member opens an invite: the landing page, with the code after # so it never reaches a server log. */
export function inviteUrl(config: NodeConfig, code: string): string {
  return `https://${config.node.host}:${config.ports.web}/join#${code}`
}

const accounts: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app.outpost
  const invites = new InviteService(node.db, node.accounts, node.config.node.domain, app.adminAuth.now)
  const withUrl = (i: StoredInvite) => ({ ...i, url: inviteUrl(node.config, i.code) })

  // A page of accounts, never all of them: each one shown costs a walk of
  // its mailbox for its size, so a box of 500 must not pay 500 walks.
  app.get('/accounts', { schema: { querystring: AccountsParams, response: { 200: Accounts, 400: ErrorBody } } }, async (req) => {
    let page
    try {
      page = node.accounts.page(req.query)
    } catch (err) {
      if (err instanceof AccountCursorError) throw new HttpError(400, err.message)
      throw err
    }
    return { ...page, items: page.items.map((a): Account => ({ ...a, usedBytes: mailboxBytes(node.paths, a.address) })) }
  })

  app.post(
    '/accounts',
    {
      schema: {
        body: NewAccount,
        response: { 200: Credentials, 400: ErrorBody, 409: ErrorBody },
      },
    },
    async (req) => {
      const { name, address, password } = req.body
      if ((name === undefined) === (address === undefined)) throw new HttpError(400, 'give either name (the part before @) or address')
      const wanted = address ?? `${name}@${node.config.node.domain}`
      if (node.accounts.get(wanted)) throw new HttpError(409, `${normaliseAddress(wanted)} already exists; reset its password instead`)
      const r = await asBadRequest(() => node.accounts.add(wanted, password))
      app.outpost.log(`web admin: account ${r.address} created`)
      return accountCredentials(node.config, r.address, r.password)
    },
  )

  app.post(
    '/accounts/:address/password',
    { schema: { params: AddressParams, body: Type.Union([Type.Object({ password: Type.Optional(AccountPassword) }, { additionalProperties: false }), Type.Null()]), response: { 200: Credentials, 404: ErrorBody } } },
    async (req) => {
      const address = normaliseAddress(req.params.address)
      if (!node.accounts.get(address)) throw new HttpError(404, `${address}: no such account`)
      const r = await asBadRequest(() => node.accounts.setPassword(address, req.body?.password))
      app.outpost.log(`web admin: new password for ${r.address}`)
      return accountCredentials(node.config, r.address, r.password)
    },
  )

  app.delete('/accounts/:address', { schema: { params: AddressParams, response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    const address = normaliseAddress(req.params.address)
    if (!node.accounts.get(address)) throw new HttpError(404, `${address}: no such account`)
    // Its mail is archived out of the mail dir: a new account of the same name starts empty.
    const r = await removeAccount(node, address, { exec, now: Date.now() })
    for (const w of r.warnings) app.outpost.log(`web admin: warning: ${w}`)
    app.outpost.log(`web admin: account ${address} removed; ${r.archive ? `its mail was archived to ${r.archive}` : 'it had no mail on disk'}`)
    return reply.code(204).send(null)
  })

  app.get('/invites', { schema: { response: { 200: Type.Array(Invite) } } }, async () => {
    invites.prune()
    return invites.list().map(withUrl)
  })

  app.post(
    '/invites',
    {
      schema: {
        body: Type.Object({ expiresInHours: Type.Number({ exclusiveMinimum: 0, maximum: 24 * 90 }), maxUses: Type.Integer({ minimum: 1, maximum: 1000 }) }, { additionalProperties: false }),
        response: { 200: NewInvite },
      },
    },
    async (req) => {
      const invite = withUrl(invites.create(req.body))
      return { ...invite, qrSvg: await qrSvg(invite.url) }
    },
  )

  app.delete('/invites/:code', { schema: { params: Type.Object({ code: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    invites.remove(req.params.code)
    return reply.code(204).send(null)
  })
}

export default accounts
