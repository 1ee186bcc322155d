import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { createMemoryStore } from '../plugins/core/memory-backend'
import { stamp } from '../plugins/core/publisher'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { mockTimers } from './helpers/clock'
import { instance, PrivateRedis, redisClient, redisEnv, redisTest } from './helpers/redis'
import { BACKEND_KINDS, backendEnv, backendTest } from './helpers/backends'

// Idempotency-Key on POST /alerts and POST /message: a retry with the same key
// gets the first answer and publishes nothing, in memory and on Redis, also
// when the retries race each other or the first attempt stalled in Redis.

const json = { 'content-type': 'application/json' }

async function postWith (app: FastifyInstance, url: string, payload: object, key?: string): Promise<{ status: number, body: Record<string, unknown>, replayed: unknown }> {
  const res = await app.inject({ method: 'POST', url, payload: JSON.stringify(payload), headers: { ...json, ...(key === undefined ? {} : { 'idempotency-key': key }) } })
  return { status: res.statusCode, body: res.json(), replayed: res.headers['idempotent-replayed'] }
}

for (const kind of BACKEND_KINDS) {
  const env = (t: Test): Record<string, string | number> => backendEnv(t, kind)
  const test = (name: string, fn: (t: Test) => Promise<void>): void => backendTest(kind, name.replace(`${kind}: `, ''), fn)

  test(`${kind}: a retry with the same key gets the first event and publishes nothing`, async (t) => {
    const { fastify, wsUrl } = await listen(t, env(t))
    const client = await Client.open(`${wsUrl}/ws`, t)
    const first = await postWith(fastify, '/alerts', { message: 'm', location: 'l' }, 'key-1')
    t.equal(first.status, 200)
    t.equal(first.replayed, undefined, 'the first answer is not a replay')
    const again = await postWith(fastify, '/alerts', { message: 'm', location: 'l', ignored: 1 }, 'key-1')
    t.equal(again.status, 200)
    t.same(again.body, first.body, 'the very event of the first answer')
    t.equal(again.replayed, 'true')
    t.equal((await fastify.inject('/alerts/history')).json().count, 1, 'stored once')
    // Chat keys are the same space, and a key without a retry publishes as usual.
    const chat = await postWith(fastify, '/message', { sender: 's', message: 'm' }, 'key-2')
    t.equal(chat.status, 200)
    t.same(await postWith(fastify, '/message', { sender: 's', message: 'm' }, 'key-2'), { ...chat, replayed: 'true' })
    t.same(await client.next(), first.body)
    t.same(await client.next(), chat.body, 'sent once each: the next frame is the next event')
    const plain = await postWith(fastify, '/alerts', { message: 'm', location: 'l' })
    t.not(plain.body.id, first.body.id, 'without a key, the same body is a new event')
    t.same(await client.next(), plain.body)
  })

  test(`${kind}: the same key with another body is 422 and stores nothing`, async (t) => {
    const app = await build(t, env(t))
    const first = await postWith(app, '/alerts', { message: 'm', location: 'l', tags: ['db'], link: 'https://example.com/a' }, 'k')
    t.equal(first.status, 200)
    const same = await postWith(app, '/alerts', { message: 'm', location: 'l', tags: ['db'], link: 'https://example.com/a' }, 'k')
    t.equal(same.replayed, 'true', 'the same body, tags and link included, is a replay')
    t.equal((await postWith(app, '/alerts', { message: 'm', location: 'l', tags: ['db'], link: 'https://example.com/a', severity: 'warning' }, 'k')).replayed, 'true', 'warning given is warning left out')
    for (const [url, payload] of [
      ['/alerts', { message: 'other', location: 'l', tags: ['db'], link: 'https://example.com/a' }],
      ['/alerts', { message: 'm', location: 'x', tags: ['db'], link: 'https://example.com/a' }],
      ['/alerts', { message: 'm', location: 'l', tags: ['disk'], link: 'https://example.com/a' }],
      ['/alerts', { message: 'm', location: 'l', link: 'https://example.com/a' }],
      ['/alerts', { message: 'm', location: 'l', tags: ['db'], link: 'https://example.com/b' }],
      ['/alerts', { message: 'm', location: 'l', tags: ['db'] }],
      // The first was a new alert of the default severity (warning): another severity is another request.
      ['/alerts', { message: 'm', location: 'l', tags: ['db'], link: 'https://example.com/a', severity: 'info' }],
      ['/alerts', { message: 'm', location: 'l', tags: ['db'], link: 'https://example.com/a', severity: 'critical' }],
      ['/message', { sender: 'm', message: 'l' }]
    ] as const) {
      const res = await postWith(app, url, payload, 'k')
      t.equal(res.status, 422, `${url} ${JSON.stringify(payload)}`)
      t.same(res.body, { statusCode: 422, code: 'IDEMPOTENCY_CONFLICT', error: 'Unprocessable Entity', message: 'this Idempotency-Key was already used for a different request' })
    }
    t.equal((await app.inject('/alerts/history')).json().count, 1)
    t.equal((await app.inject('/message')).json().count, 0)
  })

  test(`${kind}: concurrent requests with one key publish once`, async (t) => {
    const { fastify, wsUrl } = await listen(t, env(t))
    const client = await Client.open(`${wsUrl}/ws`, t)
    const answers = await Promise.all(Array.from({ length: 20 }, async () => await postWith(fastify, '/message', { sender: 's', message: 'race' }, 'raced')))
    t.ok(answers.every((a) => a.status === 200 && a.body.id === answers[0]?.body.id), 'every answer is the one event')
    t.equal(answers.filter((a) => a.replayed === undefined).length, 1, 'exactly one was the first')
    t.equal((await fastify.inject('/message')).json().count, 1)
    t.same(await client.next(), answers[0]?.body)
    const next = await postWith(fastify, '/message', { sender: 's', message: 'after' })
    t.same(await client.next(), next.body, 'no second copy was sent')
  })

  test(`${kind}: a malformed key is 400`, async (t) => {
    const app = await build(t, env(t))
    for (const key of ['has space', 'é', 'x'.repeat(201)]) {
      const res = await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l' }, headers: { 'idempotency-key': key } })
      t.equal(res.statusCode, 400, key.slice(0, 20))
      t.match(res.json().message, /headers\/idempotency-key/)
    }
    t.equal((await app.inject('/alerts/history')).json().count, 0)
  })
}

redisTest('redis: the key is kept for IDEMPOTENCY_TTL_MS, under the prefix', async (t) => {
  const env = redisEnv(t, { IDEMPOTENCY_TTL_MS: 60000 })
  const app = await build(t, env)
  await postWith(app, '/alerts', { message: 'm', location: 'l' }, 'ttl-key')
  const ttl = await redisClient(t).pttl(`${String(env.REDIS_KEY_PREFIX)}idempotency:ttl-key`)
  t.ok(ttl > 50000 && ttl <= 60000, `expires in ${ttl} ms`)
})

t.test('memory: a key is forgotten after its ttl; expired keys are let go', async (t) => {
  let now = 1000
  const store = createMemoryStore({ historySize: 10, now: () => now })
  const a = stamp({ type: 'alert', message: 'a', location: 'l' })
  const b = stamp({ type: 'alert', message: 'b', location: 'l' })
  const once = { key: 'k', ttlMs: 1000 }
  t.same(await store.append(a, undefined, once), { stored: true })
  now += 999
  t.same(await store.append(b, undefined, once), { stored: false, prior: a }, 'still remembered')
  now += 1
  t.same(await store.append(b, undefined, once), { stored: true }, 'forgotten at its expiry')
  t.same((await store.alerts()).map((e) => e.alert.message), ['a', 'b'])
})

t.test('memory: through the app, a key expires by the app\'s clock', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, { IDEMPOTENCY_TTL_MS: 60_000 }, { timers })
  const send = async () => await app.inject({ method: 'POST', url: '/alerts', headers: { 'idempotency-key': 'clocked' }, payload: { message: 'm', location: 'l' } })
  const first = await send()
  clock.advance(59_999)
  t.equal((await send()).json().id, first.json().id, 'still remembered')
  clock.advance(1)
  t.not((await send()).json().id, first.json().id, 'forgotten at its expiry, with no wall-clock wait')
})

redisTest('redis stall: the publish times out as outcome unknown, the event still lands once, and a retry with the key gets it without a duplicate', async (t) => {
  const redis = await PrivateRedis.started(t)
  const { fastify } = await instance(t, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'stall:', REDIS_COMMAND_TIMEOUT_MS: 300 })
  const address = fastify.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const client = await Client.open(`ws://127.0.0.1:${address.port}/ws`, t)
  t.teardown(() => redis.resume())

  redis.pause()
  const stalled = await postWith(fastify, '/alerts', { message: 'stalled', location: 'l' }, 'stall-key')
  t.equal(stalled.status, 504, 'the write timed out: outcome unknown')
  t.equal(stalled.body.code, 'OUTCOME_UNKNOWN')
  t.match(stalled.body.message, /may have been stored and sent; retry with the same Idempotency-Key/)
  redis.resume()

  // Redis runs the stalled script once it resumes: the event is stored and sent.
  const delivered = await client.next(10000)
  t.equal(delivered.message, 'stalled')
  const retry = await postWith(fastify, '/alerts', { message: 'stalled', location: 'l' }, 'stall-key')
  t.equal(retry.status, 200)
  t.equal(retry.replayed, 'true')
  t.same(retry.body, delivered, 'the retry answers the event that was published')
  t.equal((await fastify.inject('/alerts/history')).json().count, 1, 'stored once')
  const next = await postWith(fastify, '/alerts', { message: 'next', location: 'l' }, 'other-key')
  t.same(await client.next(), next.body, 'and sent once')
})

t.test('memory: idempotency keys are capped per client and in total, the oldest forgotten first, and counted in metrics', async (t) => {
  const stats = { held: 0, dropped: 0 }
  const store = createMemoryStore({ historySize: 100, onceKeysMax: 5, onceKeysPerOwnerMax: 3, onceStats: stats })
  const use = async (key: string, owner: string): Promise<boolean> =>
    (await store.append(stamp({ type: 'chat', sender: owner, message: key }), undefined, { key, ttlMs: 60_000, owner })).stored
  for (const key of ['a1', 'a2', 'a3', 'a4']) t.ok(await use(key, 'a'))
  t.same(stats, { held: 3, dropped: 1 }, 'a client over its cap loses its own oldest')
  t.ok(await use('a1', 'a'), 'a1 was forgotten: it publishes again')
  t.notOk(await use('a3', 'a'), 'a3 is still remembered')
  for (const key of ['b1', 'b2', 'b3']) t.ok(await use(key, 'b'))
  t.equal(stats.held, 5, 'never more than the total')
  t.notOk(await use('b1', 'b'), 'the newest are kept')
  t.ok(await use('a3', 'a'), 'the oldest of all (a3, then a4) went for the total cap')
  t.equal(stats.dropped, 4)

  const app = await build(t, { IDEMPOTENCY_KEYS_MAX: 10, IDEMPOTENCY_KEYS_PER_CLIENT: 2 })
  for (const key of ['k1', 'k2', 'k3']) t.equal((await postWith(app, '/message', { sender: 's', message: key }, key)).replayed, undefined)
  t.equal((await postWith(app, '/message', { sender: 's', message: 'k3' }, 'k3')).replayed, 'true')
  t.equal((await postWith(app, '/message', { sender: 's', message: 'k1' }, 'k1')).replayed, undefined, 'this client\'s oldest was forgotten')
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, /^alert_server_idempotency_keys 2$/m)
  t.match(metrics, /^alert_server_idempotency_keys_dropped_total 2$/m)
})
