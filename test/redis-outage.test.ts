import { WebSocket } from 'ws'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from './helpers/app'
import { once, waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { getJson, post, publishAlert } from './helpers/http'
import { RESET_GAP_FRAME } from '../plugins/core/fanout'
import { WIPED_REASON } from '../plugins/core/redis/wipe'
import { PrivateRedis, cluster, instance, redisClient, redisTest, type Instance } from './helpers/redis'

// These tests stop and start a redis-server of their own, never the shared one.
const PRIVATE = { shared: false, server: true }
const UNAVAILABLE = { statusCode: 503, code: 'BACKEND_UNAVAILABLE', error: 'Service Unavailable', message: 'Redis is unavailable; try again later' }
// Reconnection attempts are at most 2 s apart.
const RECONNECT_MS = 10000

redisTest('Redis going away: 503, error frames, clients stay connected; Redis back: everything resumes', async (t) => {
  const server = await PrivateRedis.started(t)
  const nodes = await cluster(t, 2, { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'outage:' })
  const [a, b] = nodes as [Instance, Instance]
  const onA = await Client.open(`${a.wsUrl}/ws`, t)
  const onB = await Client.open(`${b.wsUrl}/ws`, t)
  const first = await publishAlert(a.url, 'before')
  t.same(await onB.next(), first)
  t.same(await onA.next(), first)

  await server.stop()
  await waitFor(() => a.redis.problem() !== undefined && b.redis.problem() !== undefined)

  const refused = await post(`${a.url}/alerts`, { message: 'during', location: 'l' })
  t.equal(refused.status, 503)
  t.same(refused.body, UNAVAILABLE, 'the one JSON error shape, with a message')
  t.same((await post(`${b.url}/message`, { sender: 's', message: 'during' })).body, UNAVAILABLE)
  const history = await fetch(`${b.url}/alerts/history`)
  t.equal(history.status, 503)
  t.same(await history.json(), UNAVAILABLE)
  t.equal(history.headers.get('retry-after'), '5', 'as the 503 schema promises')

  const ready = await fetch(`${a.url}/ready`)
  t.equal(ready.status, 503)
  t.same(await ready.json(), { status: 'not ready', reason: 'redis unreachable' })
  const replay = await Client.open(`${a.wsUrl}/ws?since=all`, t)
  t.match(await replay.next(), { type: 'error', code: 'server_error' })
  t.equal((await replay.closed).code, 1011, 'a replay that cannot read the history closes with 1011')

  onB.send({ sender: 'Jose', message: 'during the outage' })
  t.match(await onB.next(), { type: 'error', code: 'server_error' })
  onA.send({ type: 'ping' })
  t.same(await onA.next(), { type: 'pong' }, 'the socket still answers')
  t.equal(onA.socket.readyState, WebSocket.OPEN)
  t.equal(onB.socket.readyState, WebSocket.OPEN)

  await server.start()
  await waitFor(() => a.redis.problem() === undefined && b.redis.problem() === undefined, RECONNECT_MS)
  // This Redis keeps nothing on disk: it came back empty, which is said
  // (test/redis-wipe.test.ts) until an operator confirms.
  await waitFor(async () => (await getJson(`${b.url}/ready`)).reason === WIPED_REASON)
  t.equal((await post(`${a.url}/admin/redis/confirm-wipe`, {})).status, 200)
  await b.redis.wipes.check()
  t.same(await getJson(`${b.url}/ready`), { status: 'ready' })
  const back = await publishAlert(b.url, 'after')
  // What the clients were sent is gone from Redis: they are told to reload first.
  t.same(await onA.next(), RESET_GAP_FRAME)
  t.same(await onB.next(), RESET_GAP_FRAME)
  t.same(await onA.next(), back)
  t.same(await onB.next(), back)
  onA.send({ sender: 'Jose', message: 'back again' })
  const chat = await onB.next()
  t.match(chat, { type: 'chat', message: 'back again' })
  t.same(await onA.next(), chat)
  // This Redis keeps nothing on disk: the history restarts with it.
  t.same(await getJson(`${a.url}/alerts/history`), { alerts: [back], count: 1 })
  t.equal(onA.pending + onB.pending, 0, 'nothing doubled')
}, PRIVATE)

redisTest('an instance started while Redis is away starts anyway, and serves once Redis arrives', async (t) => {
  const server = await PrivateRedis.create(t)
  const node = await instance(t, { REDIS_URL: server.url, REDIS_KEY_PREFIX: 'late:', ALERT_INTERVAL_MS: 50 })
  t.equal(node.redis.problem(), 'redis unreachable')
  const client = await Client.open(`${node.wsUrl}/ws`, t)
  t.same((await post(`${node.url}/alerts`, { message: 'too early', location: 'l' })).body, UNAVAILABLE)

  await server.start()
  await waitFor(() => node.redis.problem() === undefined, RECONNECT_MS)
  // The ticker's claims failed while Redis was away; it carries on now.
  t.match(await client.next(RECONNECT_MS), { type: 'alert', message: 'Intruder detected' })
  const posted = await publishAlert(node.url, 'on time')
  let frame = await client.next()
  while (frame.type !== 'alert' || frame.message === 'Intruder detected') frame = await client.next()
  t.same(frame, posted)
}, PRIVATE)

redisTest('a private Redis whose port was taken between picking and binding starts on another', async (t) => {
  const taken = createServer()
  taken.listen(0, '127.0.0.1')
  await once(taken, 'listening')
  t.teardown(() => { taken.close() })
  const takenPort = (taken.address() as AddressInfo).port
  const picks = [takenPort]
  const server = await PrivateRedis.started(t, { pick: async () => picks.shift() ?? await freePort() })
  t.not(server.port, takenPort, 'started on another port')
  const client = redisClient(t, server.url)
  t.equal(await client.ping(), 'PONG')
}, PRIVATE)
