import t from 'tap'
import { listen } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { once, waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { postAlert } from './helpers/http'

/**
 * A round trip of a {"type":"ping"} frame. Frames of one connection arrive in
 * order both ways, so afterwards the server has read everything the client
 * sent before (its pongs too), and the client has every frame, ping or pong,
 * the server sent before answering.
 */
async function roundTrip (client: Client): Promise<void> {
  client.send({ type: 'ping' })
  const frame = await client.next()
  if (frame.type !== 'pong') throw new Error(`expected a pong, got ${JSON.stringify(frame)}`)
}

t.test('a client that does not answer pings is terminated and leaves the set; one that answers stays', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, wsUrl } = await listen(t, { WS_HEARTBEAT_MS: 30_000 }, { timers })
  const dead = await Client.open(`${wsUrl}/ws`, t, { autoPong: false })
  const alive = await Client.open(`${wsUrl}/ws`, t)
  t.equal(fastify.fanout.size, 2)
  const drops: string[] = []
  fastify.fanout.onDrop((reason) => drops.push(reason))
  let pings = 0
  alive.socket.on('ping', () => pings++)

  clock.advance(29_999)
  await roundTrip(alive)
  t.equal(pings, 0, 'no ping before the period')

  // First period: both are pinged; only one answers.
  const deadPinged = once(dead.socket, 'ping')
  clock.advance(1)
  await deadPinged
  await roundTrip(alive)
  t.equal(pings, 1)
  t.equal(fastify.fanout.size, 2, 'a ping unanswered for less than a period is not held against a client')

  // Second period: the one that did not answer is cut without a close handshake.
  clock.advance(30_000)
  t.equal((await dead.closed).code, 1006)
  await waitFor(() => fastify.fanout.size === 1)
  t.same(drops, ['heartbeat'])
  await roundTrip(alive)

  // The answering client is pinged every period and still served.
  for (let i = 0; i < 3; i++) {
    clock.advance(30_000)
    await roundTrip(alive)
  }
  t.equal(pings, 5)
  t.equal(alive.socket.readyState, alive.socket.OPEN)
  t.same(drops, ['heartbeat'])
  const res = await postAlert(fastify)
  t.same(await alive.next(), res.json())
})

t.test('WS_HEARTBEAT_MS=0 sends no pings', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, wsUrl } = await listen(t, { WS_HEARTBEAT_MS: 0 }, { timers })
  const quiet = await Client.open(`${wsUrl}/ws`, t, { autoPong: false })
  let pings = 0
  quiet.socket.on('ping', () => pings++)
  clock.advance(24 * 3600_000)
  await roundTrip(quiet)
  t.equal(pings, 0)
  t.equal(fastify.fanout.size, 1)
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
