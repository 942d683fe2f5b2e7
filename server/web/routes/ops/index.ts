// The operations routes (dashboard, peers, transports, queue, USB), all
// under /api behind the admin login. They use `app.outpost`.
import type { FastifyPluginAsync } from 'fastify'

const ops: FastifyPluginAsync = async () => {}

export default ops
