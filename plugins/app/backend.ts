import fp from 'fastify-plugin'
import type { Backend } from '../core/backend'
import { createMemoryBackend } from '../core/memory-backend'
import { parseDuration } from '../core/duration'
import { repeating } from '../core/timers'
import { storeOf } from './config'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where events are kept and shared: this process's memory, an SQLite file, or Redis for a cluster. */
    backend: Backend
    /** Alerts dropped while not resolved because OPEN_ALERTS_MAX was reached (by this instance's appends). */
    evictedAlerts: { count: number }
    /** A warning for the start-up line when the Redis keeps nothing on disk (or cannot tell), or undefined. */
    storeWarning: { text: string | undefined }
    /** In memory mode: idempotency keys held, and those forgotten before their TTL for IDEMPOTENCY_KEYS_MAX or IDEMPOTENCY_KEYS_PER_CLIENT. */
    idempotencyKeys: { held: number, dropped: number }
  }
}

// At most one warning a minute about alerts dropped for room, with how many.
const EVICTION_LOG_MS = 60_000
// How often the SQLite file is swept of what RETENTION lets go, and how often
// a failed write is tried again (readiness comes back once it succeeds).
const SWEEP_MS = 60_000
const PROBE_MS = 5_000
// How often an instance on Redis looks for its keyspace marker (a FLUSHALL under a running cluster).
export const WIPE_CHECK_MS = 10_000

/**
 * Whether the Redis keeps anything on disk, read from its settings: a warning
 * when it keeps nothing (a Redis restart then forgets every alert), or when it
 * cannot tell (CONFIG is often renamed or refused by managed Redis services).
 */
export async function redisPersistence (command: { config: (op: 'GET', name: string) => Promise<unknown> }): Promise<string | undefined> {
  try {
    const [, save] = await command.config('GET', 'save') as [string, string]
    const [, aof] = await command.config('GET', 'appendonly') as [string, string]
    if (aof === 'yes' || save.trim() !== '') return undefined
    return 'the Redis keeps nothing on disk (no save points, appendonly no): a Redis restart forgets every alert; see docs/operations.md'
  } catch {
    return 'cannot tell whether the Redis keeps anything on disk (CONFIG GET refused); see docs/operations.md'
  }
}

/**
 * The one place that chooses the backend (STORE, or REDIS_URL alone). SQLite
 * and Redis are loaded only when chosen, so a server in memory loads neither.
 */
export default fp(async function backend (fastify) {
  const { REDIS_URL, REDIS_KEY_PREFIX, REDIS_COMMAND_TIMEOUT_MS, REPLAY_WINDOW, OPEN_ALERTS_MAX, DATA_DIR, SQLITE_SYNCHRONOUS, RETENTION, IDEMPOTENCY_KEYS_MAX, IDEMPOTENCY_KEYS_PER_CLIENT } = fastify.config
  const { timers } = fastify
  const { now } = timers
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
  const storeWarning: { text: string | undefined } = { text: undefined }
  fastify.decorate('storeWarning', storeWarning)
  const idempotencyKeys = { held: 0, dropped: 0 }
  fastify.decorate('idempotencyKeys', idempotencyKeys)
  const options = { historySize: REPLAY_WINDOW, openAlertsMax: OPEN_ALERTS_MAX, onEvict, now }
  const store = storeOf(fastify.config)
  if (store === 'memory') {
    // The SQLite file keeps its keys on disk, Redis with their TTL under its own memory policy: the caps are this process's.
    fastify.decorate('backend', createMemoryBackend({ ...options, onceKeysMax: IDEMPOTENCY_KEYS_MAX, onceKeysPerOwnerMax: IDEMPOTENCY_KEYS_PER_CLIENT, onceStats: idempotencyKeys }))
    return
  }
  if (store === 'sqlite') {
    // require, not import(): loaded on demand, and the same in the sources and in dist/.
    const { createSqliteBackend } = require('../core/sqlite-backend') as typeof import('../core/sqlite-backend')
    const sqlite = createSqliteBackend({ dir: DATA_DIR, replayWindow: REPLAY_WINDOW, openAlertsMax: OPEN_ALERTS_MAX, onEvict, synchronous: SQLITE_SYNCHRONOUS, now, log: fastify.log })
    fastify.decorate('backend', sqlite)
    const retentionMs = parseDuration(RETENTION) ?? 0
    // Runs never overlap: each is scheduled once the previous has settled.
    const sweeper = repeating(async () => { await sqlite.sweep(now() - retentionMs) }, SWEEP_MS, 'the retention sweep', fastify.log, timers)
    const prober = repeating(async () => await sqlite.probe(), PROBE_MS, 'the storage probe', fastify.log, timers)
    fastify.addHook('onReady', async () => {
      sweeper.start()
      prober.start()
    })
    fastify.addHook('onClose', async () => {
      // A sweep or probe in flight ends before the file closes under it.
      await Promise.all([sweeper.stop(), prober.stop()])
      await sqlite.close()
    })
    return
  }
  const { createRedisBackend } = require('../core/redis-backend') as typeof import('../core/redis-backend')
  const redis = createRedisBackend({ ...options, url: REDIS_URL, prefix: REDIS_KEY_PREFIX, log: fastify.log, commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS })
  fastify.decorate('backend', redis)
  // Also checked on each reconnection (redis-backend.ts).
  const wipeCheck = repeating(async () => { await redis.wipes.check() }, WIPE_CHECK_MS, 'the Redis wipe check', fastify.log, timers)
  fastify.addHook('onReady', async () => { wipeCheck.start() })
  fastify.addHook('onClose', async () => {
    await wipeCheck.stop()
    await redis.close()
  })
  // Start ready when Redis is there; when it is not, start anyway (publishing
  // answers 503 and readiness is false) and catch up once it arrives.
  await redis.settled()
  if (redis.problem() !== undefined) fastify.log.warn('starting without Redis: publishing answers 503 until it is reachable')
  else storeWarning.text = await redisPersistence(redis.command)
}, { name: 'backend', fastify: '5.x', dependencies: ['config', 'timers'] })
