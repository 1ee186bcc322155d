import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import { connectionCap, descriptorLimit, intervalReporter, onMemorySampleWithoutDescriptors, outOfDescriptors } from '../core/descriptors'

/** How often, at most, running out of descriptors is logged while it lasts. */
const DESCRIPTOR_LOG_INTERVAL_MS = 10_000

// Overloaded (event loop lagging, heap too big): answer 503 with Retry-After
// at once rather than queue work until the process falls over. Health routes
// opt out per route (routes/shared.ts, neverShed), so they can say so.
//
// Out of file descriptors (idle connections up to the limit): the connections
// open are still served and new ones refused until some close. Below the
// limit, a connection cap refuses them first, leaving descriptors for what open
// connections need; at the limit itself libuv accepts and closes them, and
// nothing that samples or accepts may end the process.
export default fp(async function pressure (fastify) {
  const { MAX_EVENT_LOOP_DELAY_MS, MAX_HEAP_USED_BYTES } = fastify.config
  const server = fastify.server

  const exhausted = intervalReporter(DESCRIPTOR_LOG_INTERVAL_MS, (count) =>
    fastify.log.warn({ events: count }, 'out of file descriptors (EMFILE): serving open connections, shedding new ones until some close'))
  const stopListening = onMemorySampleWithoutDescriptors(() => exhausted.note())

  const limit = descriptorLimit()
  const cap = limit === undefined ? undefined : connectionCap(limit)
  const refused = intervalReporter(DESCRIPTOR_LOG_INTERVAL_MS, (count) =>
    fastify.log.warn({ refused: count, maxConnections: cap, descriptorLimit: limit }, 'connection cap reached: new connections refused until some close'))
  if (cap !== undefined) {
    server.maxConnections = cap
    server.on('drop', () => refused.note())
  }

  // An accept that fails for want of a descriptor is reported on the server;
  // unheard, it would be thrown. Other errors keep their course: listen()
  // handles its own, and after it they are thrown as before.
  server.on('error', (err) => {
    if (outOfDescriptors(err)) exhausted.note()
    else if (server.listenerCount('error') === 1) throw err
  })

  fastify.addHook('onClose', async () => {
    stopListening()
    exhausted.close()
    refused.close()
  })

  await fastify.register(underPressure, {
    maxEventLoopDelay: MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: MAX_HEAP_USED_BYTES,
    retryAfter: 10,
    message: 'the server is overloaded; retry later'
  })
}, { name: 'pressure', fastify: '5.x', dependencies: ['config'] })
