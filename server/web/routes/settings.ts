// /api/settings: what the admin may change about the node (see admin/settings.ts for where each lives).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { SettingsService } from '../../admin/settings.js'
import { ErrorBody } from '../schemas.js'

const Settings = Type.Object({
  node: Type.Object({ name: Type.String(), domain: Type.String() }),
  limits: Type.Object({ messageBytes: Type.Integer(), perMinute: Type.Integer(), burst: Type.Integer() }),
  retention: Type.Object({ days: Type.Integer(), largeDays: Type.Integer() }),
  firstLogin: Type.Object({ enabled: Type.Boolean() }),
  hotspot: Type.Object({ ssid: Type.String(), passphraseSet: Type.Boolean(), channel: Type.Integer() }),
})

const closed = { additionalProperties: false } as const
const Patch = Type.Object(
  {
    node: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })), domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })) }, closed)),
    limits: Type.Optional(
      Type.Object(
        {
          messageBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 })),
          perMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        },
        closed,
      ),
    ),
    retention: Type.Optional(Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })), largeDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })) }, closed)),
    firstLogin: Type.Optional(Type.Object({ enabled: Type.Optional(Type.Boolean()) }, closed)),
    hotspot: Type.Optional(
      Type.Object({ ssid: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })), passphrase: Type.Optional(Type.String({ minLength: 8, maxLength: 63 })), channel: Type.Optional(Type.Integer({ minimum: 1, maximum: 196 })) }, closed),
    ),
  },
  closed,
)

const settings: FastifyPluginAsyncTypebox = async (app) => {
  const service = new SettingsService(app.outpost.node)

  app.get('/settings', { schema: { response: { 200: Settings } } }, async () => service.get())

  app.patch('/settings', { schema: { body: Patch, response: { 200: Type.Intersect([Settings, Type.Object({ restartNeeded: Type.Array(Type.String()) })]), 400: ErrorBody, 409: ErrorBody } } }, async (req) => {
    const r = service.update(req.body)
    app.outpost.log(`web admin: settings changed${r.restartNeeded.length ? `; after a restart: ${r.restartNeeded.join('; ')}` : ''}`)
    return r
  })
}

export default settings
