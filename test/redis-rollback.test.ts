import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildLogged } from './helpers/app'
import { publishAlert } from './helpers/http'
import { PrivateRedis, redisClient, redisTest } from './helpers/redis'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'

// Redis restarted from an older snapshot: its sequence counter goes back.
// Before, every event it numbered at or below the last one this instance had
// delivered was dropped as "already delivered": published, answered 200, and
// never on any open socket.

redisTest('Redis restarted from an older dump: said once in the log, and alerts published after it reach open sockets', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'redis-dump-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const redis = await PrivateRedis.started(t, { dir })
  const { fastify, lines } = await buildLogged(t, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'rollback:', LOG_LEVEL: 'info' })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(fastify.server.address() as { port: number }).port}`
  const client = await Client.open(`${base.replace('http', 'ws')}/ws`, t)

  await publishAlert(base, 'kept')
  t.match(await client.next(), { message: 'kept' })
  await redisClient(t, redis.url).save()
  for (const message of ['lost 1', 'lost 2', 'lost 3']) {
    await publishAlert(base, message)
    t.match(await client.next(), { message })
  }

  // A crash, and a start from the dump taken after "kept".
  await redis.stop()
  await redis.start()
  await waitFor(() => fastify.backend.problem() === undefined, 15_000)

  await publishAlert(base, 'after the rollback')
  t.match(await client.next(), { message: 'after the rollback' }, 'delivered, not dropped as already seen')
  await publishAlert(base, 'and the next')
  t.match(await client.next(), { message: 'and the next' })
  const rollback = lines.filter((l) => /went back in time/.test(String(l.msg)))
  t.equal(rollback.length, 1, 'said once')
  t.match(rollback[0], { level: 50, delivered: Number, newest: Number })
}, { shared: false, server: true })
