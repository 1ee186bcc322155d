import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildLogged } from './helpers/app'
import { publishAlert } from './helpers/http'
import { PrivateRedis, redisClient, redisTest } from './helpers/redis'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { StreamClient } from './helpers/stream-client'
import { RESET_GAP_FRAME } from '../plugins/core/fanout'

// Redis restarted from an older snapshot: its sequence counter goes back.
// Before, every event it numbered at or below the last one this instance had
// delivered was dropped as "already delivered": published, answered 200, and
// never on any open socket. Now they are delivered, and every live client
// (WebSocket, SSE, NDJSON, whatever its filter) is first sent a gap frame: the
// events it was sent after the snapshot are gone from Redis, so it reloads.

redisTest('Redis restarted from an older dump: said once in the log, every live client gets a gap, and alerts published after it reach open sockets', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'redis-dump-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const redis = await PrivateRedis.started(t, { dir })
  const { fastify, lines } = await buildLogged(t, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'rollback:', LOG_LEVEL: 'info' })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
  const client = await Client.open(`${base.replace('http', 'ws')}/ws`, t)
  // A filter that lets no alert through still gets the gap.
  const chatOnly = await Client.open(`${base.replace('http', 'ws')}/ws?types=chat`, t)
  const sse = await StreamClient.open(`${base}/events`, t)
  const ndjson = await StreamClient.open(`${base}/events?format=ndjson`, t)

  await publishAlert(base, 'kept')
  t.match(await client.next(), { message: 'kept' })
  t.match((await sse.next()).data, { message: 'kept' })
  t.match((await ndjson.next()).data, { message: 'kept' })
  await redisClient(t, redis.url).save()
  for (const message of ['lost 1', 'lost 2', 'lost 3']) {
    await publishAlert(base, message)
    t.match(await client.next(), { message })
    t.match((await sse.next()).data, { message })
    t.match((await ndjson.next()).data, { message })
  }

  // A crash, and a start from the dump taken after "kept".
  await redis.stop()
  await redis.start()
  await waitFor(() => fastify.backend.problem() === undefined, 15_000)

  await publishAlert(base, 'after the rollback')
  t.same(await client.next(), RESET_GAP_FRAME, 'the WebSocket is told to reload first')
  t.match(await client.next(), { message: 'after the rollback' }, 'delivered, not dropped as already seen')
  t.same(await chatOnly.next(), RESET_GAP_FRAME, 'whatever its filter')
  const gap = await sse.next()
  t.match(gap, { event: 'gap', data: RESET_GAP_FRAME }, 'an SSE stream gets the gap event')
  t.equal(gap.id, undefined, 'with no id: Last-Event-ID stays the last event')
  t.match((await sse.next()).data, { message: 'after the rollback' })
  t.same((await ndjson.next()).data, RESET_GAP_FRAME, 'an NDJSON stream gets the gap frame')
  t.match((await ndjson.next()).data, { message: 'after the rollback' })
  await publishAlert(base, 'and the next')
  t.match(await client.next(), { message: 'and the next' })
  t.equal(chatOnly.pending, 0, 'one gap, and no alert through the chat filter')
  const rollback = lines.filter((l) => /went back in time/.test(String(l.msg)))
  t.equal(rollback.length, 1, 'said once')
  t.match(rollback[0], { level: 50, delivered: Number, newest: Number })
}, { shared: false, server: true })
