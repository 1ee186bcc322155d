import fp from 'fastify-plugin'
import type { Backend } from '../core/backend'
import { createMemoryBackend } from '../core/memory-backend'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where events are kept and shared: this process's memory, or Redis for a cluster. */
    backend: Backend
    /** Alerts dropped while not resolved because OPEN_ALERTS_MAX was reached (by this instance's appends). */
    evictedAlerts: { count: number }
  }
}

// At most one warning a minute about alerts dropped for room, with how many.
const EVICTION_LOG_MS = 60_000

/**
 * The one place that chooses the backend. Redis is loaded only when
 * REDIS_URL is set, so a server in memory never loads ioredis.
 */
export default fp(async function backend (fastify) {
  const { REDIS_URL, REDIS_KEY_PREFIX, REDIS_COMMAND_TIMEOUT_MS, HISTORY_SIZE, OPEN_ALERTS_MAX } = fastify.config
  const { now } = fastify.timers
  const evictedAlerts = { count: 0 }
  let unlogged = 0
  let lastLog = -Infinity
  const onEvict = (ids: string[]): void => {
    evictedAlerts.count += ids.length
    unlogged += ids.length
    if (now() - lastLog < EVICTION_LOG_MS) return
    lastLog = now()
    fastify.log.warn({ dropped: unlogged, limit: OPEN_ALERTS_MAX }, 'OPEN_ALERTS_MAX reached: the oldest least severe alerts that are not resolved were dropped')
    unlogged = 0
  }
  fastify.decorate('evictedAlerts', evictedAlerts)
  const options = { historySize: HISTORY_SIZE, openAlertsMax: OPEN_ALERTS_MAX, onEvict, now }
  if (REDIS_URL === '') {
    fastify.decorate('backend', createMemoryBackend(options))
    return
  }
  // require, not import(): loaded on demand, and the same in the sources and in dist/.
  const { createRedisBackend } = require('../core/redis-backend') as typeof import('../core/redis-backend')
  const redis = createRedisBackend({ ...options, url: REDIS_URL, prefix: REDIS_KEY_PREFIX, log: fastify.log, commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS })
  fastify.decorate('backend', redis)
  fastify.addHook('onClose', async () => await redis.close())
  // Start ready when Redis is there; when it is not, start anyway (publishing
  // answers 503 and readiness is false) and catch up once it arrives.
  await redis.settled()
  if (redis.problem() !== undefined) fastify.log.warn('starting without Redis: publishing answers 503 until it is reachable')
}, { name: 'backend', fastify: '5.x', dependencies: ['config', 'timers'] })
