import fp from 'fastify-plugin'
import type { Backend } from '../core/backend'
import { createMemoryBackend } from '../core/memory-backend'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where events are kept and shared: this process's memory, or Redis for a cluster. */
    backend: Backend
    /** Alerts dropped while not resolved because OPEN_ALERTS_MAX was reached (by this instance's appends). */
    evictedAlerts: { count: number }
    /** In memory mode: idempotency keys held, and those forgotten before their TTL for IDEMPOTENCY_KEYS_MAX or IDEMPOTENCY_KEYS_PER_CLIENT. */
    idempotencyKeys: { held: number, dropped: number }
  }
}

// At most one warning a minute about alerts dropped for room, with how many.
const EVICTION_LOG_MS = 60_000

/**
 * The one place that chooses the backend. Redis is loaded only when
 * REDIS_URL is set, so a server in memory never loads ioredis.
 */
export default fp(async function backend (fastify) {
  const { REDIS_URL, REDIS_KEY_PREFIX, REDIS_COMMAND_TIMEOUT_MS, HISTORY_SIZE, OPEN_ALERTS_MAX, IDEMPOTENCY_KEYS_MAX, IDEMPOTENCY_KEYS_PER_CLIENT } = fastify.config
  const evictedAlerts = { count: 0 }
  let unlogged = 0
  let lastLog = -Infinity
  const onEvict = (ids: string[]): void => {
    evictedAlerts.count += ids.length
    unlogged += ids.length
    if (Date.now() - lastLog < EVICTION_LOG_MS) return
    lastLog = Date.now()
    fastify.log.warn({ dropped: unlogged, limit: OPEN_ALERTS_MAX }, 'OPEN_ALERTS_MAX reached: the oldest least severe alerts that are not resolved were dropped')
    unlogged = 0
  }
  fastify.decorate('evictedAlerts', evictedAlerts)
  const idempotencyKeys = { held: 0, dropped: 0 }
  fastify.decorate('idempotencyKeys', idempotencyKeys)
  const options = { historySize: HISTORY_SIZE, openAlertsMax: OPEN_ALERTS_MAX, onEvict }
  if (REDIS_URL === '') {
    // Redis keeps its keys with their TTL, under its own memory policy: the caps are this process's.
    fastify.decorate('backend', createMemoryBackend({ ...options, onceKeysMax: IDEMPOTENCY_KEYS_MAX, onceKeysPerOwnerMax: IDEMPOTENCY_KEYS_PER_CLIENT, onceStats: idempotencyKeys }))
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
}, { name: 'backend', fastify: '5.x', dependencies: ['config'] })
