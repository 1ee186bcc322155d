import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { build, buildLogged } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { bearer, tokensFile } from './helpers/credentials'
import { deletePrefix, PrivateRedis, SHARED_REDIS_URL, instance, redisClient, redisEnv, redisTest } from './helpers/redis'
import { waitFor } from './helpers/wait'
import { WIPE_CHECK_MS } from '../plugins/app/backend'
import { WIPED_REASON } from '../plugins/core/redis/wipe'
import type { RedisBackend } from '../plugins/core/redis-backend'

// A Redis that loses this deployment's keys under a running instance
// (FLUSHALL, a new empty Redis) used to look like a quiet one: heartbeat
// monitors no longer checked, the board empty, and nothing said. The shared
// Redis is only ever "wiped" by deleting this test's own prefix.

const ADMIN = 'admin-token-for-the-wipe-tests'

/** Deletes every key under a prefix: a FLUSHALL of this deployment alone. */
async function wipe (url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 0 })
  try {
    await deletePrefix(client, prefix)
  } finally {
    client.disconnect()
  }
}

const redisOf = (fastify: FastifyInstance): RedisBackend => fastify.backend as RedisBackend

async function ready (fastify: FastifyInstance): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fastify.inject('/ready')
  return { status: res.statusCode, body: res.json() }
}

async function confirm (fastify: FastifyInstance, headers: Record<string, string> = bearer(ADMIN)): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fastify.inject({ method: 'POST', url: '/admin/redis/confirm-wipe', headers })
  return { status: res.statusCode, body: res.json() }
}

const wipeLines = (lines: Array<Record<string, unknown>>): Array<Record<string, unknown>> => lines.filter((l) => /lost this deployment's keys/.test(String(l.msg)))

redisTest('a wipe under a running instance: said once, not ready (REDIS_WIPED) until confirmed; the confirmation restores the monitors it knew', async (t) => {
  const env = redisEnv(t, { API_TOKEN: ADMIN, LOG_LEVEL: 'info' })
  const prefix = String(env.REDIS_KEY_PREFIX)
  const { fastify, lines } = await buildLogged(t, env)
  const redis = redisClient(t)
  const marker = JSON.parse(await redis.get(`${prefix}marker`) ?? '{}') as Record<string, unknown>
  t.match(marker, { by: 'seed', instance: redisOf(fastify).instance }, 'the first instance marks the keyspace')
  t.same(await ready(fastify), { status: 200, body: { status: 'ready' } })

  const ping = await fastify.inject({ method: 'POST', url: '/heartbeats/nightly-backup?every=1h&grace=5m&severity=warning', headers: bearer(ADMIN) })
  t.equal(ping.statusCode, 200)
  const before = (await fastify.backend.heartbeats.get('nightly-backup'))
  await redisOf(fastify).wipes.check()
  t.same(await ready(fastify), { status: 200, body: { status: 'ready' } }, 'a check that finds the marker changes nothing')
  t.same(wipeLines(lines), [])

  await wipe(SHARED_REDIS_URL, prefix)
  await redisOf(fastify).wipes.check()
  const notReady = await ready(fastify)
  t.equal(notReady.status, 503)
  t.same(notReady.body, { status: 'not ready', reason: WIPED_REASON })
  t.match(String(notReady.body.reason), /^REDIS_WIPED: /, 'the reason starts with its code')
  await redisOf(fastify).wipes.check()
  t.equal(wipeLines(lines).length, 1, 'said once')
  t.match(wipeLines(lines)[0], { level: 50, monitors: 1 })
  t.equal(await fastify.backend.heartbeats.get('nightly-backup'), undefined, 'the monitor went with the wipe')

  // An instance started now finds an empty keyspace and marks it: that ends nothing.
  const late = await build(t, env)
  t.match(JSON.parse(await redis.get(`${prefix}marker`) ?? '{}'), { by: 'seed', instance: redisOf(late).instance })
  t.equal((await ready(late)).status, 200, 'it cannot tell, and serves')
  await redis.set(`${prefix}marker`, 'not JSON')
  await redisOf(fastify).wipes.check()
  t.equal((await ready(fastify)).status, 503, 'a marker that cannot be read is no confirmation either')
  await redisOf(fastify).wipes.check()
  t.equal((await ready(fastify)).status, 503, 'a marker that is not a confirmation does not end the wipe')

  const confirmed = await confirm(fastify)
  t.same(confirmed, { status: 200, body: { confirmed: true, wasWiped: true, monitorsRestored: 1 } })
  t.same(await ready(fastify), { status: 200, body: { status: 'ready' } })
  t.same(await fastify.backend.heartbeats.get('nightly-backup'), before, 'restored with its settings and last ping')
  t.match(JSON.parse(await redis.get(`${prefix}marker`) ?? '{}'), { by: 'confirm', instance: redisOf(fastify).instance })
  t.same(await confirm(fastify), { status: 200, body: { confirmed: true, wasWiped: false, monitorsRestored: 0 } }, 'confirming again is harmless')

  // Wiped again: both notice; a confirmation on one ends it on the other at its next check.
  await wipe(SHARED_REDIS_URL, prefix)
  await redisOf(fastify).wipes.check()
  await redisOf(late).wipes.check()
  t.equal((await ready(fastify)).status, 503)
  t.equal((await ready(late)).status, 503)
  t.equal(wipeLines(lines).length, 2, 'a new wipe is said again')
  t.match((await confirm(late)).body, { confirmed: true, wasWiped: true })
  t.equal((await ready(fastify)).status, 503, 'until its next check')
  await redisOf(fastify).wipes.check()
  t.equal((await ready(fastify)).status, 200)
  t.ok(lines.some((l) => /confirmed on another instance/.test(String(l.msg))))
})

redisTest('the wipe check runs every WIPE_CHECK_MS', async (t) => {
  const env = redisEnv(t)
  const { clock, timers } = mockTimers()
  const node = await instance(t, env, { timers })
  await node.fastify.ready()
  await wipe(SHARED_REDIS_URL, String(env.REDIS_KEY_PREFIX))
  t.equal((await ready(node.fastify)).status, 200, 'not checked yet')
  clock.advance(WIPE_CHECK_MS)
  await waitFor(async () => (await ready(node.fastify)).status === 503)
  t.match((await ready(node.fastify)).body, { reason: WIPED_REASON })
})

redisTest('a FLUSHALL, and a restart of a Redis that keeps nothing: noticed (the restart on reconnection, with no check due)', async (t) => {
  const server = await PrivateRedis.started(t)
  const { timers } = mockTimers()
  const node = await instance(t, { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'wipe:' }, { timers })
  await redisClient(t, server.url).flushall()
  await node.redis.wipes.check()
  t.match((await ready(node.fastify)).body, { status: 'not ready', reason: WIPED_REASON })
  t.equal((await confirm(node.fastify, {})).status, 200)
  t.equal((await ready(node.fastify)).status, 200)

  await server.stop()
  await waitFor(() => node.redis.problem() !== undefined)
  await node.redis.wipes.check()
  t.equal((await ready(node.fastify)).body.reason, 'redis unreachable', 'a check that cannot reach Redis says nothing of a wipe')
  await server.start()
  // The mock clock never moves: only the reconnection checks.
  await waitFor(async () => (await ready(node.fastify)).body.reason === WIPED_REASON, 15_000)
}, { shared: false, server: true })

t.test('confirming a wipe: admin scope, any body ignored, and a server not on Redis says so', async (t) => {
  const admin = { name: 'ops', scopes: ['admin' as const], token: 'ops-token-0123456789abcdef' }
  const operator = { name: 'oncall', scopes: ['operate' as const], token: 'oncall-token-0123456789abcdef' }
  const file = tokensFile(t, [admin, operator])
  const app = await build(t, { TOKENS_FILE: file.path })
  const url = '/admin/redis/confirm-wipe'
  t.match((await app.inject({ method: 'POST', url })).json(), { statusCode: 401, code: 'TOKEN_REQUIRED' })
  t.match((await app.inject({ method: 'POST', url, headers: bearer(operator.token) })).json(), { statusCode: 403, code: 'SCOPE_MISSING' })
  t.match((await app.inject({ method: 'GET', url, headers: bearer(admin.token) })).json(), { statusCode: 404, code: 'NOT_FOUND' })
  for (const [type, payload] of [['application/json', '{broken'], ['text/plain', 'anything'], ['application/x-www-form-urlencoded', 'a=1']]) {
    const res = await app.inject({ method: 'POST', url, headers: { ...bearer(admin.token), 'content-type': type as string }, payload })
    t.equal(res.statusCode, 409, `${type as string} body ignored`)
    t.match(res.json(), { statusCode: 409, code: 'NOT_ON_REDIS', message: /in memory, not in Redis/ })
  }
  t.match((await app.inject({ method: 'POST', url, headers: { ...bearer(admin.token), 'content-type': 'application/json' }, payload: 'x'.repeat(70_000) })).json(), { statusCode: 413, code: 'BODY_TOO_LARGE' })
})

t.test('on SQLite the answer names the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wipe-sqlite-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const app = await build(t, { STORE: 'sqlite', DATA_DIR: dir })
  t.match((await app.inject({ method: 'POST', url: '/admin/redis/confirm-wipe' })).json(), { code: 'NOT_ON_REDIS', message: /an SQLite file/ })
})
