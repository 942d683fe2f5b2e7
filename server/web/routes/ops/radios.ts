// /api/radios: the state of each LoRa transport's radio (port, channel,
// airtime against the duty-cycle budget, frames of the last day and airtime
// per hour), as `outpost radio` prints it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { radioState, type RadioState } from '../../../transports/lora/state.js'
import { HttpError } from '../../errors.js'
import { ErrorBody } from './schemas.js'
import { Radio } from '../../schemas.js'

const Id = Type.Object({ id: Type.Integer({ minimum: 1 }) })

const radios: FastifyPluginAsyncTypebox = async (app) => {
  const { node, transports } = app.outpost
  const listening = (id: number): boolean | null => (app.outpost.radios ? app.outpost.radios.listening().includes(id) : null)

  app.get('/radios', { schema: { response: { 200: Type.Array(Radio) } } }, async () =>
    transports
      .list()
      .map((t) => radioState(node, t, listening(t.id)))
      .filter((r): r is RadioState => r !== undefined),
  )

  app.get('/radios/:id', { schema: { params: Id, response: { 200: Radio, 404: ErrorBody } } }, async (req) => {
    const t = transports.get(req.params.id)
    const r = t && radioState(node, t, listening(t.id))
    if (!r) throw new HttpError(404, `transport ${req.params.id} is not a LoRa radio (see /api/radios)`)
    return r
  })
}

export default radios
