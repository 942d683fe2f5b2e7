// /api/transports and /api/schedule/preview: the carriers that reach each
// peer, their schedules, and "run now". The same TransportService as
// `outpost transport`; runs go through the node's scheduler, so a run from
// the page and a scheduled one never overlap.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { driverFor, driverKinds } from '../../../transports/registry.js'
import { checkSchedule, nextRuns, SECRET_MASK, type TransportInfo } from '../../../transports/service.js'
import { scheduleText } from '../../../transports/schedule-text.js'
import { TransportConfigError, allConfigKeys } from '../../../transports/transport.js'
import { HttpError } from '../../errors.js'
import { asked, ErrorBody, Run } from './schemas.js'
import { NewTransport, Schedule, SchedulePreview, SECRET_SHOWN_AS, Started, Transport, TransportKind } from '../../schemas.js'

// The contract's description of masked secrets says what the service shows.
const _maskAgrees: typeof SECRET_SHOWN_AS = SECRET_MASK

const Id = Type.Object({ id: Type.Integer({ minimum: 1 }) })

const transports: FastifyPluginAsyncTypebox = async (app) => {
  const { transports: service } = app.outpost
  const view = (t: TransportInfo) => ({ ...service.overview(t), running: app.outpost.scheduler?.isRunning(t.id) ?? false })
  const byId = (id: number) => {
    const t = service.get(id)
    if (!t) throw new HttpError(404, `no transport with id ${id}`)
    return t
  }

  app.get('/transports', { schema: { response: { 200: Type.Array(Transport) } } }, async () => service.list().map(view))

  app.get(
    '/transports/kinds',
    {
      schema: {
        response: {
          200: Type.Array(TransportKind),
        },
      },
    },
    async () =>
      driverKinds().map((kind) => {
        const d = driverFor(kind)!
        return {
          kind,
          summary: d.doc,
          defaultSchedule: d.defaultSchedule,
          options: Object.entries(allConfigKeys(d)).map(([name, k]) => ({ name, required: k.required === true, secret: k.secret === true, help: k.doc, ...(k.default !== undefined ? { default: k.default } : {}) })),
        }
      }),
  )

  app.post(
    '/transports',
    {
      schema: {
        body: NewTransport,
        response: { 200: Transport, 400: ErrorBody },
      },
    },
    async (req) => {
      const t = await asked(() => service.add(req.body.peer, req.body.kind, req.body.options, req.body.schedule))
      app.outpost.log(`web admin: transport ${t.id} added (${t.kind} to ${t.peer}, "${t.schedule}")`)
      return view(t)
    },
  )

  app.patch(
    '/transports/:id',
    { schema: { params: Id, body: Type.Object({ schedule: Schedule }, { additionalProperties: false }), response: { 200: Transport, 400: ErrorBody, 404: ErrorBody } } },
    async (req) => {
      byId(req.params.id)
      await asked(() => service.setSchedule(req.params.id, req.body.schedule.trim()))
      // The scheduler picks the new schedule up at its next reload (within 15 s).
      return view(byId(req.params.id))
    },
  )

  app.delete('/transports/:id', { schema: { params: Id, response: { 204: Type.Null(), 404: ErrorBody } } }, async (req, reply) => {
    byId(req.params.id)
    service.remove(req.params.id)
    app.outpost.log(`web admin: transport ${req.params.id} removed`)
    return reply.code(204).send(null)
  })

  app.post(
    '/transports/:id/run',
    { schema: { params: Id, response: { 202: Started, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody } } },
    async (req, reply) => {
      const t = byId(req.params.id)
      const scheduler = app.outpost.scheduler
      if (!scheduler) throw new HttpError(503, 'this node runs no scheduler, so nothing can run now; is `outpost start` running?')
      if (scheduler.isRunning(t.id)) throw new HttpError(409, `transport ${t.id} is running already; its progress is on the way`)
      // Answered at once; the run reports itself as transport.run events.
      void scheduler.runNow(t.id).catch((err: Error) => app.outpost.log(`transport ${t.id}: run now failed: ${err.message}`))
      return reply.code(202).send({ started: true })
    },
  )

  app.get(
    '/transports/:id/runs',
    { schema: { params: Id, querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }) }), response: { 200: Type.Array(Run), 404: ErrorBody } } },
    async (req) => service.runs(byId(req.params.id).id, req.query.limit),
  )

  app.get(
    '/schedule/preview',
    {
      schema: {
        querystring: Type.Object({ schedule: Schedule }),
        response: { 200: SchedulePreview },
      },
    },
    async (req) => {
      const schedule = req.query.schedule.trim()
      try {
        checkSchedule(schedule)
      } catch (err) {
        if (!(err instanceof TransportConfigError)) throw err
        return { valid: false, error: err.message, next: [] }
      }
      return { valid: true, text: scheduleText(schedule), next: nextRuns(schedule, 5).map((d) => d.getTime()) }
    },
  )
}

export default transports
