// /api/settings: what the admin may change about the node (see admin/settings.ts for where each lives).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { SettingsService } from '../../admin/settings.js'
import { ErrorBody, Settings, SettingsPatch, SettingsSaved } from '../schemas.js'

const settings: FastifyPluginAsyncTypebox = async (app) => {
  const service = new SettingsService(app.outpost.node)

  app.get('/settings', { schema: { response: { 200: Settings } } }, async () => service.get())

  app.patch('/settings', { schema: { body: SettingsPatch, response: { 200: SettingsSaved, 400: ErrorBody, 409: ErrorBody } } }, async (req) => {
    const r = service.update(req.body)
    app.outpost.log(`web admin: settings changed${r.restartNeeded.length ? `; after a restart: ${r.restartNeeded.join('; ')}` : ''}`)
    return r
  })
}

export default settings
