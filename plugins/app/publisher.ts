import fp from 'fastify-plugin'
import { createPublisher, type Publisher } from '../core/publisher'

declare module 'fastify' {
  interface FastifyInstance {
    publisher: Publisher
  }
}

export default fp(async function publisher (fastify) {
  fastify.decorate('publisher', createPublisher(fastify.backend.store, { idempotencyTtlMs: fastify.config.IDEMPOTENCY_TTL_MS, now: fastify.timers.now }))
}, { name: 'publisher', fastify: '5.x', dependencies: ['config', 'timers', 'backend'] })
