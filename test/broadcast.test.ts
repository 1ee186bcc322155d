import t from 'tap'
import type { Writable } from 'node:stream'
import { listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { textFrame } from '../plugins/core/framing'
import type { WebSocket } from 'ws'

t.test('under bursts from every publishing path, every client gets every event once, in publish order', async (t) => {
  const { fastify, wsUrl } = await listen(t, { HISTORY_SIZE: 5000, REPLAY_WINDOW: 5000, WS_CHAT_RATE: 1e6, WS_CHAT_BURST: 1e6 })
  const clients = await Promise.all(Array.from({ length: 40 }, async () => await Client.open(`${wsUrl}/ws`, t)))
  const chatter = clients[0] as Client

  // Three sources at once, each in bursts of concurrent publishes.
  const direct = (async () => {
    for (let burst = 0; burst < 10; burst++) {
      await Promise.all(Array.from({ length: 50 }, async (_, i) =>
        await fastify.publisher.publish({ type: 'alert', message: `d${burst}-${i}`, location: 'x' })))
    }
  })()
  const http = (async () => {
    for (let burst = 0; burst < 10; burst++) {
      await Promise.all(Array.from({ length: 20 }, async (_, i) =>
        await fastify.inject({ method: 'POST', url: '/message', payload: { sender: 'h', message: `h${burst}-${i}` } })))
    }
  })()
  for (let i = 0; i < 100; i++) chatter.send({ sender: 'w', message: `w${i}` })
  await Promise.all([direct, http])

  const TOTAL = 500 + 200 + 100
  const seen = await Promise.all(clients.map(async (c) => {
    const ids: string[] = []
    while (ids.length < TOTAL) ids.push((await c.next()).id as string)
    return ids
  }))
  const history = [
    ...(await fastify.inject('/alerts/history')).json().alerts,
    ...(await fastify.inject('/message')).json().chatMessages
  ]
  t.equal(history.length, TOTAL)
  const first = seen[0] as string[]
  t.equal(new Set(first).size, TOTAL, 'no duplicates')
  t.same(new Set(first), new Set(history.map((e: { id: string }) => e.id)), 'no loss: exactly the stored events')
  for (const ids of seen) t.same(ids, first, 'the same order on every client')
  // Publish order is the store's order: alerts among themselves and chat among themselves.
  const alertIds = (await fastify.inject('/alerts/history')).json().alerts.map((e: { id: string }) => e.id)
  t.same(first.filter((id) => alertIds.includes(id)), alertIds)
  t.equal(clients.reduce((n, c) => n + c.pending, 0), 0, 'nothing extra')
})

t.test('events published in one turn reach a client in one write', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const client = await Client.open(`${wsUrl}/ws`, t)
  const [server] = [...fastify.websocketServer.clients]
  const tcp = (server as unknown as { _socket: Writable })._socket
  let writes = 0
  const write = tcp.write.bind(tcp) as (...args: unknown[]) => boolean
  tcp.write = ((...args: unknown[]) => { writes++; return write(...args) }) as typeof tcp.write

  const events = await Promise.all(Array.from({ length: 100 }, async (_, i) =>
    await fastify.publisher.publish({ type: 'alert', message: `m${i}`, location: 'l' })))
  for (const event of events) t.same(await client.next(), event)
  t.equal(writes, 1, '100 events, one write')
})

t.test('frames of every length class reach a real client intact', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const client = await Client.open(`${wsUrl}/ws`, t)
  const [server] = [...fastify.websocketServer.clients]
  // 7-bit, 16-bit and 64-bit payload lengths, at and around each boundary, multi-byte text included.
  for (const length of [0, 1, 100, 125, 126, 127, 1000, 65535, 65536, 70000, 200000]) {
    const frame = { type: 'pong', pad: 'é'.repeat(Math.floor(length / 2)) + 'x'.repeat(length % 2) }
    fastify.fanout.send(server as WebSocket, frame)
    t.same(await client.next(), frame, `${length} bytes of padding`)
  }
  t.equal(textFrame('').length, 2)
  t.equal(textFrame('x'.repeat(126)).length, 4 + 126)
  t.equal(textFrame('x'.repeat(65536)).length, 10 + 65536)
})
