import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'

// Overloaded (event loop lagging, heap too big): answer 503 with Retry-After
// at once rather than queue work until the process falls over. Health routes
// opt out per route (routes/shared.ts, neverShed), so they can say so.
export default fp(async function pressure (fastify) {
  const { MAX_EVENT_LOOP_DELAY_MS, MAX_HEAP_USED_BYTES } = fastify.config
  await fastify.register(underPressure, {
    maxEventLoopDelay: MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: MAX_HEAP_USED_BYTES,
    retryAfter: 10,
    message: 'the server is overloaded; retry later'
  })
}, { name: 'pressure', fastify: '5.x', dependencies: ['config'] })
