import t, { type Test } from 'tap'
import pino from 'pino'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { createRedisBackend, type RedisBackend } from '../plugins/core/redis-backend'
import { createMemoryStore } from '../plugins/core/memory-backend'
import type { EventStore, Replay } from '../plugins/core/backend'
import { BackendUnavailableError } from '../plugins/core/errors'
import { stamp } from '../plugins/core/publisher'
import { build } from './helpers/app'
import { waitFor } from './helpers/wait'
import { PrivateRedis, SHARED_REDIS_URL, redisClient, redisPrefix, redisTest } from './helpers/redis'
import { publishAlert } from './helpers/http'

const log = pino({ level: 'silent' })

async function backend (t: Test, prefix = redisPrefix(t), url = SHARED_REDIS_URL, historySize = 5): Promise<RedisBackend> {
  const redis = createRedisBackend({ url, prefix, historySize, log })
  t.teardown(async () => await redis.close())
  await redis.settled()
  return redis
}

const alert = (message: string) => stamp({ type: 'alert', message, location: 'x' })
const chat = (message: string) => stamp({ type: 'chat', sender: 's', message })
const names = (r: Replay): string[] => r.events.map((e) => 'message' in e ? e.message : '')

// The same contract for both stores: whatever the memory store answers, the
// Redis store answers too.
const stores: Array<[string, (t: Test, size: number) => Promise<EventStore>]> = [
  ['memory', async (_t, size) => createMemoryStore({ historySize: size })],
  ['redis', async (t, size) => (await backend(t, undefined, undefined, size)).store]
]

for (const [kind, make] of stores) {
  const test = kind === 'redis' ? redisTest : (name: string, fn: (t: Test) => Promise<void>) => { void t.test(name, fn) }

  test(`${kind} store caps each stream on its own and lists oldest first`, async (t) => {
    const store = await make(t, 3)
    for (const e of [0, 1, 2, 3, 4].map((i) => alert(`a${i}`))) await store.append(e)
    for (const e of [0, 1].map((i) => chat(`c${i}`))) await store.append(e)
    t.same((await store.alerts()).map((e) => e.alert.message), ['a0', 'a1', 'a2', 'a3', 'a4'], 'alerts that are not resolved are all kept')
    t.same((await store.chats()).map((e) => e.message), ['c0', 'c1'])
  })

  test(`${kind} store: since() replays both streams in publish order after an id`, async (t) => {
    const store = await make(t, 3)
    const events = [alert('a0'), chat('c0'), alert('a1'), chat('c1'), alert('a2')]
    for (const e of events) await store.append(e)

    const all = await store.since()
    t.equal(all.found, true)
    t.same(all.events, events, 'the very objects published, in publish order')

    const after = await store.since(events[1]?.id)
    t.equal(after.found, true)
    t.same(names(after), ['a1', 'c1', 'a2'])

    t.same(await store.since(events[4]?.id), { found: true, events: [] }, 'nothing after the newest')

    const unknown = await store.since('00000000-0000-4000-8000-000000000000')
    t.equal(unknown.found, false)
    t.same(names(unknown), ['a0', 'c0', 'a1', 'c1', 'a2'], 'an unknown id gets the whole history')

    // Push a0 out of the alert stream: its id is no longer known.
    await store.append(alert('a3'))
    const evicted = await store.since(events[0]?.id)
    t.equal(evicted.found, false)
    t.same(names(evicted), ['c0', 'a1', 'c1', 'a2', 'a3'])
    t.same(names(await store.since(events[1]?.id)), ['a1', 'c1', 'a2', 'a3'], 'a retained chat id still works')
  })

  test(`${kind} store: a replay from a retained id has a gap when the other stream let go of a later event`, async (t) => {
    const store = await make(t, 3)
    const c0 = chat('c0')
    await store.append(c0)
    for (const e of [0, 1, 2].map((i) => alert(`a${i}`))) await store.append(e)
    t.same(await store.since(c0.id), { found: true, events: (await store.since()).events.slice(1) }, 'all three alerts after c0 are still there')
    // The alert stream lets go of a0, which came after c0: c0 is still retained, a0 is lost to its replay.
    await store.append(alert('a3'))
    const replay = await store.since(c0.id)
    t.equal(replay.found, false, 'a gap')
    t.same(names(replay), ['c0', 'a1', 'a2', 'a3'], 'and the whole retained history, as for an id no longer retained')
    // The other way round: an alert id, and chat after it let go.
    const a3 = (await store.since()).events.at(-1)
    for (const e of [1, 2, 3].map((i) => chat(`c${i}`))) await store.append(e)
    t.same(names(await store.since(a3?.id)), ['c1', 'c2', 'c3'], 'c0 was let go, but it came before a3: no gap')
    t.equal((await store.since(a3?.id)).found, true)
    await store.append(chat('c4'))
    t.equal((await store.since(a3?.id)).found, false, 'c1 came after a3 and is gone: a gap')
  })

  test(`${kind} store: an empty history`, async (t) => {
    const store = await make(t, 3)
    t.same(await store.alerts(), [])
    t.same(await store.since(), { found: true, events: [] })
    t.same(await store.since('00000000-0000-4000-8000-000000000000'), { found: false, events: [] })
  })
}

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
    one.keys.alerts, one.keys.revs, one.keys.raised, one.keys.unresolved.warning].sort())
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

t.test('a server in memory never loads ioredis', async (t) => {
  const script = "const { build } = require('./app'); const { loadConfig } = require('./plugins/app/config');" +
    "const f = build(loadConfig({ ALERT_INTERVAL_MS: '0' }), false);" +
    "f.ready().then(() => { console.log(Object.keys(require.cache).filter((k) => k.includes('/node_modules/ioredis/')).length); return f.close() })"
  // Its coverage stays out of the report: it loads the sources through another loader (tsx).
  const env = { ...process.env, NODE_OPTIONS: '', _TAPJS_PROCESSINFO_COV_EXCLUDE_: '/./' }
  const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: join(__dirname, '..'), env, encoding: 'utf8', timeout: 30000 })
  t.equal(result.stdout.trim(), '0', result.stderr)
})
