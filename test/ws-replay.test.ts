import t from 'tap'
import { listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { publishAlert, publishChat, type Target } from './helpers/http'
import type { Event } from '../schemas/events'

/** `n` alerts, one after the other: prefix0, prefix1... */
async function publishAlerts (target: Target, n: number, prefix = 'a'): Promise<Event[]> {
  const out: Event[] = []
  for (let i = 0; i < n; i++) out.push(await publishAlert(target, `${prefix}${i}`))
  return out
}

t.test('?since=<id> sends every stored event after it, both streams in publish order, then live events', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a0 = await publishAlert(fastify, 'a0')
  const c0 = await publishChat(fastify, 'c0')
  const a1 = await publishAlert(fastify, 'a1')
  const c1 = await publishChat(fastify, 'c1')

  const client = await Client.open(`${wsUrl}/ws?since=${a0.id as string}`, t)
  t.same(await client.next(), c0)
  t.same(await client.next(), a1)
  t.same(await client.next(), c1)
  const live = await publishAlert(fastify, 'live')
  t.same(await client.next(), live)
  t.equal(client.pending, 0, 'nothing else was sent')
})

t.test('?since=<newest id> sends nothing until the next live event', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const [, last] = await publishAlerts(fastify, 2)
  const client = await Client.open(`${wsUrl}/ws?since=${last?.id as string}`, t)
  const live = (await publishAlerts(fastify, 1, 'live'))[0]
  t.same(await client.next(), live)
})

t.test('?since=all sends the whole retained history first', async (t) => {
  const { fastify, wsUrl } = await listen(t, { HISTORY_SIZE: 3, REPLAY_WINDOW: 3 })
  const alerts = await publishAlerts(fastify, 5)
  const chat = await publishChat(fastify, 'c')
  const client = await Client.open(`${wsUrl}/ws?since=all`, t)
  for (const expected of [...alerts.slice(2), chat]) t.same(await client.next(), expected)
  const live = (await publishAlerts(fastify, 1, 'live'))[0]
  t.same(await client.next(), live)
})

t.test('an unknown or evicted id gets a gap frame, then the whole retained history', async (t) => {
  const { fastify, wsUrl } = await listen(t, { HISTORY_SIZE: 2, REPLAY_WINDOW: 2 })
  const alerts = await publishAlerts(fastify, 4)
  for (const since of ['00000000-0000-4000-8000-000000000000', alerts[0]?.id as string, 'not-an-id']) {
    const client = await Client.open(`${wsUrl}/ws?since=${since}`, t)
    const gap = await client.next()
    t.equal(gap.type, 'gap')
    t.match(gap.message, /not in the retained history/)
    t.same(await client.next(), alerts[2])
    t.same(await client.next(), alerts[3])
    client.socket.close()
  }
})

t.test('a plain /ws gets live events only', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  await publishAlerts(fastify, 3)
  const client = await Client.open(`${wsUrl}/ws`, t)
  const live = (await publishAlerts(fastify, 1, 'live'))[0]
  t.same(await client.next(), live)
})

t.test('a bad since is refused before the upgrade', async (t) => {
  const { fastify } = await listen(t)
  const res = await fastify.inject({ url: '/ws?since=', headers: { upgrade: 'websocket', connection: 'upgrade' } })
  t.equal(res.statusCode, 400)
  t.match(res.json().message, /querystring\/since must not be empty/)
})

t.test('reconnecting with ?since= while events are being published loses and doubles nothing', async (t) => {
  const { fastify, wsUrl } = await listen(t, { HISTORY_SIZE: 1000, REPLAY_WINDOW: 1000 })
  const TOTAL = 400
  const published: string[] = []
  // Publishing runs on its own while the client drops and reconnects.
  const publishing = (async () => {
    for (let i = 0; i < TOTAL; i++) {
      published.push((i % 3 === 0 ? await publishChat(fastify, `m${i}`) : await publishAlert(fastify, `m${i}`)).id)
    }
  })()

  const received: string[] = []
  let client = await Client.open(`${wsUrl}/ws?since=all`, t)
  let reconnects = 0
  while (received.length < TOTAL) {
    const frame = await client.next()
    t.not(frame.type, 'gap', 'the id is still retained: no gap')
    received.push(frame.id as string)
    // Every 37 events: drop the connection and come back from the last id seen.
    if (received.length % 37 === 0 && received.length < TOTAL) {
      client.socket.terminate()
      reconnects++
      client = await Client.open(`${wsUrl}/ws?since=${received[received.length - 1] as string}`, t)
    }
  }
  await publishing
  t.ok(reconnects >= 10, `reconnected ${reconnects} times`)
  t.equal(new Set(received).size, received.length, 'no event twice')
  t.same(received, published, 'every event, in publish order')
})
