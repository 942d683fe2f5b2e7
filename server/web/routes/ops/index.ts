// The operations routes (dashboard, peers, transports, radios, queue, USB, uplink, clock), all
// under /api behind the admin login. They use `app.outpost`; each area is
// its own plugin, and each calls the services the CLI uses.
import type { FastifyPluginAsync } from 'fastify'
import dashboard from './dashboard.js'
import peers from './peers.js'
import transports from './transports.js'
import queue from './queue.js'
import usb from './usb.js'
import uplink from './uplink.js'
import clock from './clock.js'
import radios from './radios.js'

const ops: FastifyPluginAsync = async (app) => {
  await app.register(dashboard)
  await app.register(peers)
  await app.register(transports)
  await app.register(queue)
  await app.register(usb)
  await app.register(uplink)
  await app.register(clock)
  await app.register(radios)
}

export default ops
