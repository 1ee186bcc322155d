import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Backend, Log, WipeWatch } from './backend'
import { connectionOptions, describeRedisUrl, guard, logOutages } from './redis/connection'
import { createRedisFeed } from './redis/feed'
import { createRedisHeartbeats } from './redis/heartbeats'
import { redisKeys, type RedisKeys } from './redis/keys'
import { createRedisOutbox, createRedisSilences, type RedisOutbox, type RedisSilences } from './redis/outbox'
import { loadScripts } from './redis/scripts'
import { createWipeWatch } from './redis/wipe'
import { createRedisStore, readRange } from './redis/store'

export { describeRedisUrl, guard } from './redis/connection'
export type { RedisKeys } from './redis/keys'
export type { Range, Sequenced } from './redis/store'

export interface RedisBackendOptions {
  url: string
  prefix: string
  historySize: number
  /** Alerts that are not resolved kept at most; past it the oldest, least severe goes. */
  openAlertsMax?: number
  /** Called with the ids of alerts dropped while not resolved (over openAlertsMax). */
  onEvict?: (ids: string[]) => void
  /** How long a command may go unanswered before it fails (a publish then has an unknown outcome). */
  commandTimeoutMs?: number
  /** The clock of the outbox's entries and the wipe marker's timestamps (ms since the epoch). */
  now?: () => number
  /** How often this instance looks whether another changed the silences (its copy serves GET /silences and the board). */
  silencesRefreshMs?: number
  log: Log
}

export interface RedisBackend extends Backend {
  readonly kind: 'redis'
  /** The command connection (tests look into Redis through it). */
  readonly command: Redis
  readonly keys: RedisKeys
  readonly outbox: RedisOutbox
  readonly silences: RedisSilences
  /** This process, in claims and connection names. */
  readonly instance: string
  readonly wipes: WipeWatch
  /** Resolves once ready, or once the first connection attempt failed (the connections keep retrying). */
  settled: () => Promise<void>
}

/**
 * History, fan-out, claims, heartbeat monitors, the notification outbox and
 * silences (redis/outbox.ts) shared by every instance
 * through one Redis: the store (redis/store.ts) appends and publishes on the
 * cluster's channel in one atomic step, the sequenced feed (redis/feed.ts)
 * hands every event of that channel, its own included, to this instance in
 * publish order, catching up after a lost subscription; heartbeats are in
 * redis/heartbeats.ts; a wipe is noticed by redis/wipe.ts. Two connections:
 * one for commands, one subscribed.
 */
export function createRedisBackend ({ url, prefix, historySize, openAlertsMax = 10000, onEvict = () => {}, commandTimeoutMs = 5000, now = Date.now, silencesRefreshMs = 2000, log }: RedisBackendOptions): RedisBackend {
  if (!/^rediss?:\/\//.test(url)) throw new Error('REDIS_URL must be a redis:// or rediss:// URL')
  const keys = redisKeys(prefix)
  const instance = randomUUID()
  const command = new Redis(url, {
    ...connectionOptions,
    commandTimeout: commandTimeoutMs,
    connectionName: `alerts-command-${instance}`,
    scripts: loadScripts()
  })
  const subscriber = new Redis(url, { ...connectionOptions, connectionName: `alerts-subscriber-${instance}` })
  logOutages(command, 'command', log)
  logOutages(subscriber, 'subscriber', log)
  let closed = false

  const { feed, subscribed, events } = createRedisFeed({
    subscriber,
    channel: keys.channel,
    readAfter: async (seq) => await readRange(command, keys, 'seq', String(seq)),
    counter: async () => Number(await guard(command.get(keys.seq)) ?? 0),
    idAt: async (seq) => await guard(command.hget(keys.seqs, String(seq))) ?? undefined,
    evictedThrough: async () => Math.max(0, ...(await guard(command.hvals(keys.evicted))).map(Number)),
    log,
    closed: () => closed
  })
  const isReady = (): boolean => subscribed() && command.status === 'ready'
  const outbox = createRedisOutbox(command, keys, now)
  const silences = createRedisSilences(command, keys)
  // Another instance's silence reaches the router at once (append.lua checks
  // the revision); this keeps the rest of this instance's copy current.
  const refresher = setInterval(() => {
    if (command.status === 'ready') silences.refresh().catch((err: unknown) => log.debug({ err }, 'reading the silences failed; tried again'))
  }, silencesRefreshMs)
  refresher.unref()
  const heartbeats = createRedisHeartbeats(command, keys)
  const wipes = createWipeWatch({ command, key: keys.marker, heartbeats, instance, log, now })
  // The first connection marks the keyspace; a reconnection may find a new, empty Redis.
  command.on('ready', () => { void wipes.check() })

  return {
    kind: 'redis',
    description: describeRedisUrl(url),
    command,
    keys,
    instance,
    store: createRedisStore(command, keys, { historySize, openAlertsMax, onEvict, notify: { outbox, silences, now } }),
    outbox,
    silences,
    heartbeats,
    wipes,
    feed,
    claims: {
      // The key outlives its use (the caller's ttl) so that an instance whose
      // clock or timer runs late cannot claim a name that was already used.
      async claim (name, ttlMs) {
        return await guard(command.set(keys.claim(name), instance, 'PX', ttlMs, 'NX'), true) === 'OK'
      }
    },
    settings: {
      // SET NX: the first instance's value is kept, and every instance reads that one.
      // (The key is built here, beside redis/keys.ts's: `<prefix>setting:<name>`.)
      async keep (name, make) {
        const key = `${prefix}setting:${name}`
        await guard(command.set(key, make(), 'NX'))
        const kept = await guard(command.get(key))
        if (kept === null) throw new Error(`the setting ${name} vanished from Redis`)
        return kept
      }
    },
    problem: () => isReady() ? undefined : 'redis unreachable',

    async settled () {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          events.off('subscribed', check)
          events.off('subscribeFailed', done)
          command.off('ready', check)
          command.off('error', done)
          subscriber.off('error', done)
          resolve()
        }
        function check (): void { if (isReady()) done() }
        events.on('subscribed', check)
        events.once('subscribeFailed', done)
        command.on('ready', check)
        command.once('error', done)
        subscriber.once('error', done)
        check()
      })
    },

    async close () {
      closed = true
      clearInterval(refresher)
      await Promise.all([command, subscriber].map(async (connection) => {
        if (connection.status !== 'ready') {
          connection.disconnect()
          return
        }
        // QUIT lets commands still in flight finish; disconnect is the fallback.
        await connection.quit().catch(() => connection.disconnect())
      }))
    }
  }
}
