import t, { type Test } from 'tap'
import pino from 'pino'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { createRedisBackend, type RedisBackend } from '../plugins/core/redis-backend'
import { BackendUnavailableError } from '../plugins/core/errors'
import { stamp } from '../plugins/core/publisher'
import { build } from './helpers/app'
import { waitFor } from './helpers/wait'
import { PrivateRedis, SHARED_REDIS_URL, redisClient, redisPrefix, redisTest } from './helpers/redis'
import { publishAlert } from './helpers/http'
import { redisPersistence } from '../plugins/app/backend'

const log = pino({ level: 'silent' })

async function backend (t: Test, prefix = redisPrefix(t), url = SHARED_REDIS_URL, historySize = 5): Promise<RedisBackend> {
  const redis = createRedisBackend({ url, prefix, historySize, log })
  t.teardown(async () => await redis.close())
  await redis.settled()
  return redis
}

const alert = (message: string) => stamp({ type: 'alert', message, location: 'x' })
const chat = (message: string) => stamp({ type: 'chat', sender: 's', message })

redisTest('every key and the channel are under the prefix, and prefixes do not see each other', async (t) => {
  const client = redisClient(t)
  const prefix = redisPrefix(t)
  const one = await backend(t, prefix, undefined, 2)
  const other = await backend(t, undefined, undefined, 2)
  const heard: Array<{ message: string }> = []
  other.feed.subscribe((event) => heard.push(event as { message: string }))
  const a = one.store
  const b = other.store
  for (const e of [alert('a0'), alert('a1'), alert('a2'), chat('c0')]) await a.append(e)

  const keys = (await client.keys(`${prefix}*`)).sort()
  t.same(keys, [one.keys.history.alert, one.keys.history.chat, one.keys.ids, one.keys.seqs, one.keys.evicted, one.keys.seq,
    one.keys.alerts, one.keys.revs, one.keys.raised, one.keys.unresolved.warning, one.keys.marker].sort())
  t.equal(await client.hlen(one.keys.ids), 3, 'evicted ids leave the id index')
  t.equal(await client.hlen(one.keys.seqs), 3, 'and the sequence index')
  t.same(await b.alerts(), [])
  t.same(await b.since(), { found: true, events: [] })
  // A message on the other prefix's channel would have been heard by now:
  // this one is published after, and arrives alone.
  await b.append(alert('mine'))
  await waitFor(() => heard.length > 0)
  t.equal(heard.length, 1)
  t.match(heard[0], { message: 'mine' })
})

redisTest('sequence numbers stay exact integers: they start from the clock in microseconds', async (t) => {
  const client = redisClient(t)
  const redis = await backend(t)
  const store = redis.store
  const before = Date.now() * 1000
  for (const e of [alert('a0'), chat('c0'), alert('a1')]) await store.append(e)
  const seq = Number(await client.get(redis.keys.seq))
  t.ok(seq > before && seq < 2 ** 53, `${seq} is a microsecond count`)
  const ids = Object.values(await client.hgetall(redis.keys.ids)).map(Number).sort((x, y) => x - y)
  t.same(ids, [seq - 2, seq - 1, seq], 'consecutive, none rounded')
})

t.test('a store whose Redis cannot be reached fails at once as unavailable, and never queues', async (t) => {
  const down = await PrivateRedis.create(t)
  const redis = await backend(t, 'unreached:', down.url)
  t.equal(redis.problem(), 'redis unreachable')
  const store = redis.store
  const attempts: Array<Promise<unknown>> = [store.append(alert('a')), store.alerts(), store.since(), redis.claims.claim('x', 10)]
  for (const attempt of attempts) {
    await t.rejects(attempt, BackendUnavailableError)
  }
})

redisTest('an error reply that is not an outage is not taken for one', async (t) => {
  const client = redisClient(t)
  const redis = await backend(t)
  // The alert history is not a sorted set: a fault of the data, not a lost connection.
  await client.set(redis.keys.history.alert, 'not a sorted set')
  const err = await redis.store.append(alert('a')).then(() => undefined, (e: unknown) => e as Error & { statusCode?: number })
  t.match(err, { name: 'ReplyError', message: /WRONGTYPE/ })
  t.equal(err?.statusCode, undefined)
})

t.test('REDIS_URL must be a redis:// URL', async (t) => {
  await t.rejects(build(t, { REDIS_URL: 'localhost:6379' }), /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/)
})

t.test('without REDIS_URL there is no Redis: the app runs in memory', async (t) => {
  const fastify = await build(t)
  t.equal(fastify.backend.kind, 'memory')
  const posted = await publishAlert(fastify)
  t.same((await fastify.inject('/alerts/history')).json(), { alerts: [posted], count: 1 })
})

t.test('a server in memory never loads ioredis nor better-sqlite3', async (t) => {
  const script = "const { build } = require('./app'); const { loadConfig } = require('./plugins/app/config');" +
    "const f = build(loadConfig({ ALERT_INTERVAL_MS: '0', STORE: 'memory' }), false);" +
    "f.ready().then(() => { console.log(Object.keys(require.cache).filter((k) => k.includes('/node_modules/ioredis/') || k.includes('/node_modules/better-sqlite3/')).length); return f.close() })"
  // Its coverage stays out of the report: it loads the sources through another loader (tsx).
  const env = { ...process.env, NODE_OPTIONS: '', _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' }
  const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: join(__dirname, '..'), env, encoding: 'utf8', timeout: 30000 })
  t.equal(result.stdout.trim(), '0', result.stderr)
})

redisTest('the start-up line warns when the Redis keeps nothing on disk, and when it cannot tell', async (t) => {
  // Its files (the AOF turned on below) in a directory of the test's own, not the working directory.
  const server = await PrivateRedis.started(t, { dir: t.testdir() })
  const redis = await backend(t, 'persistence:', server.url)
  t.match(await redisPersistence(redis.command), /^the Redis keeps nothing on disk \(no save points, appendonly no\)/, 'started with --save "" --appendonly no')
  await redis.command.config('SET', 'appendonly', 'yes')
  t.equal(await redisPersistence(redis.command), undefined, 'an AOF: nothing to warn about')
  await redis.command.config('SET', 'appendonly', 'no')
  await redis.command.config('SET', 'save', '3600 1')
  t.equal(await redisPersistence(redis.command), undefined, 'RDB save points: nothing to warn about')
  // Managed Redis services often refuse CONFIG.
  t.match(await redisPersistence({ config: async () => { throw new Error('ERR unknown command CONFIG') } }), /^cannot tell whether the Redis keeps anything on disk/)
  const app = await build(t, { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'line:' })
  t.equal(app.storeWarning.text, undefined, 'the app reads it at start')
}, { server: true })
