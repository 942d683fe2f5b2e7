// /api/usb: the sticks plugged into the box, "export/import now" and "safe
// to remove". The same offload as the udev unit's `outpost usb offload`.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { StickService } from '../../../appliance/sticks.js'
import { exec } from '../../../base/exec.js'
import { asked, ErrorBody } from './schemas.js'
import { Ejected, Started, Usb } from '../../schemas.js'

const Path = Type.Object({ path: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false })

const usb: FastifyPluginAsyncTypebox = async (app) => {
  const { node, exchange, events, log } = app.outpost
  const sticks = new StickService({ db: node.db, exchange, events, exec, log })
  let running: Promise<unknown> = Promise.resolve()
  // An offload in progress finishes before the app closes: it writes bundles and acks.
  app.addHook('onClose', async () => {
    await running.catch(() => undefined)
  })

  app.get('/usb', { schema: { response: { 200: Usb } } }, async () => ({ sticks: await sticks.list(), offloading: sticks.offloading }))

  app.post('/usb/offload', { schema: { body: Path, response: { 202: Started, 404: ErrorBody, 409: ErrorBody } } }, async (req, reply) => {
    // Wrapped so that `asked` maps a bad path to its 4xx without waiting for the offload itself.
    const { run } = await asked(() => ({ run: sticks.startOffload(req.body.path) }))
    running = run
    void run.then((r) => {
      if (!r.ok) log(`web admin: ${r.error}`)
    })
    return reply.code(202).send({ started: true })
  })

  app.post('/usb/eject', { schema: { body: Path, response: { 200: Ejected, 404: ErrorBody, 409: ErrorBody } } }, async (req) =>
    asked(() => sticks.eject(req.body.path)),
  )
}

export default usb
