import t from 'tap'
import { listen } from './helpers/app'
import { once, waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'

t.test('a client that does not answer pings is terminated and leaves the set; one that answers stays', async (t) => {
  const { fastify, wsUrl } = await listen(t, { WS_HEARTBEAT_MS: 30 })
  const dead = await Client.open(`${wsUrl}/ws`, t, { autoPong: false })
  const alive = await Client.open(`${wsUrl}/ws`, t)
  t.equal(fastify.broadcaster.size, 2)
  const drops: string[] = []
  fastify.broadcaster.onDrop((reason) => drops.push(reason))

  const closed = await dead.closed
  t.equal(closed.code, 1006, 'cut without a close handshake')
  await waitFor(() => fastify.broadcaster.size === 1)
  t.same(drops, ['heartbeat'])

  // The answering client has seen several more pings and is still served.
  for (let i = 0; i < 3; i++) await once(alive.socket, 'ping')
  t.equal(alive.socket.readyState, alive.socket.OPEN)
  const res = await fastify.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l' } })
  t.same(await alive.next(), res.json())
})

t.test('WS_HEARTBEAT_MS=0 sends no pings', async (t) => {
  const { fastify, wsUrl } = await listen(t, { WS_HEARTBEAT_MS: 0 })
  const quiet = await Client.open(`${wsUrl}/ws`, t, { autoPong: false })
  let pings = 0
  quiet.socket.on('ping', () => pings++)
  // A second server with a fast heartbeat proves time has passed for several periods.
  const other = await listen(t, { WS_HEARTBEAT_MS: 10 })
  const watch = await Client.open(`${other.wsUrl}/ws`, t)
  for (let i = 0; i < 3; i++) await once(watch.socket, 'ping')
  t.equal(pings, 0)
  t.equal(fastify.broadcaster.size, 1)
})

t.test('{"type":"ping"} is answered with {"type":"pong"} and nothing is published', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  const b = await Client.open(`${wsUrl}/ws`, t)
  a.send({ type: 'ping' })
  t.same(await a.next(), { type: 'pong' })
  a.send({ type: 'ping', extra: 1 })
  t.same(await a.next(), { type: 'pong' })
  t.equal(b.pending, 0)
  t.equal((await fastify.inject('/message')).json().count, 0)
})

t.test('the heartbeat defaults to 30 s', async (t) => {
  const { fastify } = await listen(t)
  t.equal(fastify.config.WS_HEARTBEAT_MS, 30000)
})
