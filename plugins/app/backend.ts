import fp from 'fastify-plugin'
import type { Backend } from '../core/backend'
import { createMemoryBackend } from '../core/memory-backend'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where events are kept and shared: this process's memory, or Redis for a cluster. */
    backend: Backend
  }
}

/**
 * The one place that chooses the backend. Redis is loaded only when
 * REDIS_URL is set, so a server in memory never loads ioredis.
 */
export default fp(async function backend (fastify) {
  const { REDIS_URL, REDIS_KEY_PREFIX, REDIS_COMMAND_TIMEOUT_MS, HISTORY_SIZE } = fastify.config
  if (REDIS_URL === '') {
    fastify.decorate('backend', createMemoryBackend({ historySize: HISTORY_SIZE }))
    return
  }
  // require, not import(): loaded on demand, and the same in the sources and in dist/.
  const { createRedisBackend } = require('../core/redis-backend') as typeof import('../core/redis-backend')
  const redis = createRedisBackend({ url: REDIS_URL, prefix: REDIS_KEY_PREFIX, historySize: HISTORY_SIZE, log: fastify.log, commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS })
  fastify.decorate('backend', redis)
  fastify.addHook('onClose', async () => await redis.close())
  // Start ready when Redis is there; when it is not, start anyway (publishing
  // answers 503 and readiness is false) and catch up once it arrives.
  await redis.settled()
  if (redis.problem() !== undefined) fastify.log.warn('starting without Redis: publishing answers 503 until it is reachable')
}, { name: 'backend', fastify: '5.x', dependencies: ['config'] })
