import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { Redis, type RedisOptions, type Result } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { EventType } from '../schemas/events'
import { httpError } from './errors'

/**
 * Every key and channel the cluster shares, all under REDIS_KEY_PREFIX so that
 * several deployments can share one Redis.
 */
export interface RedisKeys {
  /** Counter: the sequence number of the newest event, i.e. the publish order of the whole cluster. */
  seq: string
  /** One sorted set per stream: member = the event's JSON, score = its sequence number. */
  history: Record<EventType, string>
  /** Hash: event id → sequence number, for every retained event (replay by id). */
  ids: string
  /** Pub/Sub channel: every event, as `{"seq":N,"event":{...}}`, in sequence order. */
  channel: string
  /** String claimed with SET NX by the one instance that publishes the automatic alert of a slot. */
  tick: (slot: number) => string
}

export function redisKeys (prefix: string): RedisKeys {
  return {
    seq: `${prefix}seq`,
    history: { alert: `${prefix}history:alert`, chat: `${prefix}history:chat` },
    ids: `${prefix}ids`,
    channel: `${prefix}events`,
    tick: (slot) => `${prefix}ticker:${slot}`
  }
}

/**
 * Appends an event and publishes it in one atomic step, so that the order of
 * the channel is the order of the history on every instance.
 *
 * KEYS: seq, history of the event's stream, ids. ARGV: id, event JSON, history size, channel.
 * The counter starts from the server's clock in microseconds whenever it is
 * missing (first use, or a Redis that lost its data): sequence numbers then
 * never go backwards, which lets an instance tell "already delivered" from
 * "new" across a Redis restart. string.format('%d') keeps them exact in the
 * message (Lua's own number-to-string conversion keeps 14 digits only).
 */
const APPEND_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
end
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], seq)
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
    redis.call('HDEL', KEYS[3], cjson.decode(old).id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
redis.call('PUBLISH', ARGV[4], '{"seq":' .. string.format('%d', seq) .. ',"event":' .. ARGV[2] .. '}')
return seq
`

/**
 * Reads, in one consistent snapshot, the retained events of both streams after
 * a point, merged in sequence order.
 *
 * KEYS: seq, history:alert, history:chat, ids.
 * ARGV[1]: 'all' (every retained event), 'id' (after the event whose id is
 * ARGV[2]) or 'seq' (after sequence number ARGV[2]).
 * Returns {found, newest, seq1, json1, seq2, json2, ...}: found is 0 when the
 * id is not retained (everything is returned then); newest is the counter.
 * Sequence numbers travel as strings, exactly as Redis stored them.
 */
const RANGE_LUA = `
local newest = redis.call('GET', KEYS[1]) or '0'
local after = '-inf'
local found = 1
if ARGV[1] == 'id' then
  local seq = redis.call('HGET', KEYS[4], ARGV[2])
  if seq then after = '(' .. seq else found = 0 end
elseif ARGV[1] == 'seq' then
  after = '(' .. ARGV[2]
end
local a = redis.call('ZRANGEBYSCORE', KEYS[2], after, '+inf', 'WITHSCORES')
local c = redis.call('ZRANGEBYSCORE', KEYS[3], after, '+inf', 'WITHSCORES')
local out = {found, newest}
local i, j = 1, 1
while i <= #a or j <= #c do
  if j > #c or (i <= #a and tonumber(a[i + 1]) < tonumber(c[j + 1])) then
    out[#out + 1] = a[i + 1]
    out[#out + 1] = a[i]
    i = i + 2
  else
    out[#out + 1] = c[j + 1]
    out[#out + 1] = c[j]
    j = j + 2
  end
end
return out
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    appendEvent: (seqKey: string, historyKey: string, idsKey: string, id: string, json: string, historySize: number, channel: string) => Result<number, Context>
    eventRange: (seqKey: string, alertKey: string, chatKey: string, idsKey: string, mode: 'all' | 'id' | 'seq', after: string) => Result<Array<string | number>, Context>
  }
}

export interface RedisBackend {
  /** Commands: history, publishing, ticker claims. Fails fast while disconnected. */
  readonly command: Redis
  readonly keys: RedisKeys
  /** This process, in ticker claims and connection names. */
  readonly instance: string
  /** Commands can run and the event channel is subscribed: the instance can publish and deliver. */
  isReady: () => boolean
  /** Every message of the event channel, in publish order. */
  onMessage: (listener: (message: string) => void) => void
  /** Called each time the event channel is (re)subscribed, after which messages flow again. */
  onSubscribed: (listener: () => void) => void
  readonly subscribed: boolean
}

export interface RedisBackendOptions {
  url: string
  prefix: string
  log: FastifyBaseLogger
}

// Reconnect forever, at most every 2 s, so that an instance resumes on its own
// when Redis comes back.
const retryStrategy = (times: number): number => Math.min(times * 100, 2000)

/**
 * Commands must fail at once while Redis is away rather than queue: a publish
 * then answers 503 instead of hanging, and an append that may already have run
 * is never sent twice.
 */
const connectionOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  // Resubscribing is done here, so that it is known when messages flow again.
  autoResubscribe: false,
  commandTimeout: 5000,
  retryStrategy
}

export function createRedisBackend ({ url, prefix, log }: RedisBackendOptions): RedisBackend & { settled: () => Promise<void>, close: () => Promise<void> } {
  if (!/^rediss?:\/\//.test(url)) throw new Error('REDIS_URL must be a redis:// or rediss:// URL')
  const keys = redisKeys(prefix)
  const instance = randomUUID()
  const command = new Redis(url, { ...connectionOptions, connectionName: `alerts-command-${instance}`, scripts: {
    appendEvent: { numberOfKeys: 3, lua: APPEND_LUA },
    eventRange: { numberOfKeys: 4, lua: RANGE_LUA }
  } })
  const subscriber = new Redis(url, { ...connectionOptions, connectionName: `alerts-subscriber-${instance}` })
  const events = new EventEmitter()
  let subscribed = false

  // One warning per outage and connection, not one per reconnection attempt.
  for (const [role, connection] of [['command', command], ['subscriber', subscriber]] as const) {
    let failing = false
    connection.on('error', (err) => {
      if (failing) return
      failing = true
      log.warn({ err, role }, 'redis connection failed; reconnecting')
    })
    connection.on('ready', () => {
      if (failing) log.info({ role }, 'redis connection restored')
      failing = false
    })
  }

  subscriber.on('ready', () => {
    subscriber.subscribe(keys.channel).then(() => {
      subscribed = true
      events.emit('subscribed')
    }, (err: unknown) => {
      // The connection dropped again (the next 'ready' retries) or Redis refused.
      log.warn({ err }, 'redis subscribe failed')
      events.emit('subscribeFailed')
    })
  })
  subscriber.on('close', () => { subscribed = false })
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === keys.channel) events.emit('message', message)
  })

  const isReady = (): boolean => subscribed && command.status === 'ready'

  return {
    command,
    keys,
    instance,
    isReady,
    onMessage (listener) { events.on('message', listener) },
    onSubscribed (listener) { events.on('subscribed', listener) },
    get subscribed () { return subscribed },

    /** Resolves once ready, or once the first connection attempt failed (the connections keep retrying). */
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

// Redis refusing for a while (loading, busy, out of memory, a replica) is an
// outage like a lost connection; any other error reply is a fault of this code.
const TRANSIENT_REPLY = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/

/**
 * Runs a command; if Redis is unavailable, fails with a 503 that the error
 * handler shows to the client as it is ("Redis is unavailable; try again later").
 */
export async function guard<T> (command: Promise<T>): Promise<T> {
  try {
    return await command
  } catch (err) {
    if (err instanceof Error && err.name === 'ReplyError' && !TRANSIENT_REPLY.test(err.message)) throw err
    throw httpError(503, 'Redis is unavailable; try again later', { cause: err })
  }
}

/**
 * The ticker's claim on Redis: the first instance to SET the slot's key gets it.
 * The key outlives the slot (twice the interval) so that an instance whose clock
 * or timer runs late cannot claim a slot that was already published.
 */
export function createRedisClaim (redis: RedisBackend, intervalMs: number): (slot: number) => Promise<boolean> {
  return async (slot) => await guard(redis.command.set(redis.keys.tick(slot), redis.instance, 'PX', 2 * intervalMs, 'NX')) === 'OK'
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared Redis of a cluster; null when REDIS_URL is unset and everything stays in memory. */
    redis: RedisBackend | null
  }
}

export default fp(async function redis (fastify) {
  const { REDIS_URL, REDIS_KEY_PREFIX } = fastify.config
  if (REDIS_URL === '') {
    fastify.decorate('redis', null)
    return
  }
  const backend = createRedisBackend({ url: REDIS_URL, prefix: REDIS_KEY_PREFIX, log: fastify.log })
  fastify.decorate('redis', backend)
  fastify.addHook('onClose', async () => await backend.close())
  // Start ready when Redis is there; when it is not, start anyway (publishing
  // answers 503 and readiness is false) and catch up once it arrives.
  await backend.settled()
  if (!backend.isReady()) fastify.log.warn('starting without Redis: publishing answers 503 until it is reachable')
}, { name: 'redis', dependencies: ['config'] })
