import type { Test } from 'tap'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { getJson, publishAlert, publishChat } from './helpers/http'
import { cluster, instance, redisClient, redisEnv, redisTest, type Instance } from './helpers/redis'
import type { Event } from '../schemas/events'

/** Takes `n` frames from a client. */
async function take (client: Client, n: number): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = []
  for (let i = 0; i < n; i++) out.push(await client.next())
  return out
}

/**
 * Checks that nothing else arrives: a marker published after everything else
 * must be the very next frame of every client.
 */
async function nothingElse (t: Test, node: Instance, clients: Client[]): Promise<void> {
  const marker = await publishAlert(node.url, 'marker')
  for (const client of clients) t.same(await client.next(), marker, 'no other frame before the marker')
}

redisTest('an alert or chat published on one instance reaches every client of every instance once', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  const onA = await Client.open(`${a.wsUrl}/ws`, t)
  const onB = await Client.open(`${b.wsUrl}/ws`, t)

  const alert = await publishAlert(a.url, 'posted on A')
  t.same(await onA.next(), alert)
  t.same(await onB.next(), alert)

  const chat = await publishChat(b.url, 'posted on B')
  t.same(await onA.next(), chat)
  t.same(await onB.next(), chat)

  onB.send({ sender: 'Jose', message: 'sent over the socket on B' })
  const fromSocket = await onA.next()
  t.match(fromSocket, { type: 'chat', sender: 'Jose', message: 'sent over the socket on B' })
  t.same(await onB.next(), fromSocket, 'the sender gets it too, once')

  await nothingElse(t, b, [onA, onB])
})

redisTest('a burst of concurrent publishes on three instances arrives in one order everywhere, the order of the history', async (t) => {
  const nodes = await cluster(t, 3, redisEnv(t, { HISTORY_SIZE: 100, REPLAY_WINDOW: 100 }))
  const clients = await Promise.all(nodes.map(async (node) => await Client.open(`${node.wsUrl}/ws`, t)))
  const n = 60
  const posted = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const node = nodes[i % nodes.length] as Instance
    return i % 2 === 0 ? await publishAlert(node.url, `a${i}`) : await publishChat(node.url, `c${i}`)
  }))

  const seen = await Promise.all(clients.map(async (client) => await take(client, n)))
  const order = seen[0]?.map((e) => e.id)
  t.same(new Set(order), new Set(posted.map((e) => e.id)), 'every event, none doubled')
  t.equal(new Set(order).size, n)
  for (const other of seen.slice(1)) t.same(other.map((e) => e.id), order, 'the same order on every instance')

  // Replay and history read the same order from Redis, on any instance.
  const replay = await Client.open(`${nodes[1]?.wsUrl as string}/ws?since=all`, t)
  t.same((await take(replay, n)).map((e) => e.id), order, 'replay order = live order')
  for (const node of nodes) {
    const alerts = await getJson(`${node.url}/alerts/history`) as { alerts: Event[] }
    const chat = await getJson(`${node.url}/message`) as { chatMessages: Event[] }
    t.same(alerts.alerts.map((e) => e.id), seen[0]?.filter((e) => e.type === 'alert').map((e) => e.id))
    t.same(chat.chatMessages.map((e) => e.id), seen[0]?.filter((e) => e.type === 'chat').map((e) => e.id))
  }
  await nothingElse(t, nodes[2] as Instance, clients)
})

redisTest('every instance answers the same history, capped, oldest first; a restarted instance still has it', async (t) => {
  const env = redisEnv(t, { HISTORY_SIZE: 3, REPLAY_WINDOW: 3 })
  const [a, b] = await cluster(t, 2, env) as [Instance, Instance]
  const alerts: Event[] = []
  for (let i = 0; i < 5; i++) alerts.push(await publishAlert((i % 2 === 0 ? a : b).url, `a${i}`))
  const chat = await publishChat(b.url, 'c0')
  const expected = { alerts: alerts.slice(2), count: 3 }
  t.same(await getJson(`${a.url}/alerts/history`), expected)
  t.same(await getJson(`${b.url}/alerts/history`), expected)
  t.same(await getJson(`${a.url}/message/`), { chatMessages: [chat], count: 1 })

  await a.fastify.close()
  await b.fastify.close()
  const restarted = await instance(t, env)
  t.same(await getJson(`${restarted.url}/alerts/history`), expected, 'history survives every instance')
  t.same(await getJson(`${restarted.url}/message`), { chatMessages: [chat], count: 1 })
})

redisTest('?since= replays from any instance: reconnect to another one and miss nothing', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t, { HISTORY_SIZE: 3, REPLAY_WINDOW: 3 })) as [Instance, Instance]
  const first = await Client.open(`${a.wsUrl}/ws`, t)
  const e1 = await publishAlert(a.url, 'e1')
  const e2 = await publishChat(b.url, 'e2')
  t.same(await take(first, 2), [e1, e2])
  first.socket.close()
  await first.closed

  // Published while the client was away, on both instances.
  const missed = [await publishAlert(b.url, 'e3'), await publishChat(a.url, 'e4'), await publishAlert(a.url, 'e5')]
  const back = await Client.open(`${b.wsUrl}/ws?since=${e2.id}`, t)
  t.same(await take(back, 3), missed)
  const live = await publishAlert(a.url, 'e6')
  t.same(await back.next(), live)

  // Evicted (e1 was pushed out of the alert stream) or unknown: gap, then everything retained.
  for (const since of [e1.id, '00000000-0000-4000-8000-000000000000']) {
    const gapped = await Client.open(`${a.wsUrl}/ws?since=${since}`, t)
    t.match(await gapped.next(), { type: 'gap' })
    t.same((await take(gapped, 5)).map((e) => e.message), ['e2', 'e3', 'e4', 'e5', 'e6'])
    gapped.socket.close()
  }
  await nothingElse(t, b, [back])
})

redisTest('an instance whose subscription dropped delivers what it missed, once and in order', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  const onA = await Client.open(`${a.wsUrl}/ws`, t)
  const before = await publishAlert(b.url, 'before')
  t.same(await onA.next(), before)

  // B publishes before A has resubscribed.
  await cutSubscriber(t, a)
  const missed = [await publishAlert(b.url, 'm1'), await publishChat(b.url, 'm2'), await publishAlert(b.url, 'm3')]
  t.same(await take(onA, 3), missed)
  await waitFor(() => a.redis.problem() === undefined)
  const after = await publishAlert(b.url, 'after')
  t.same(await onA.next(), after)
  await nothingElse(t, b, [onA])
})

/** Cuts an instance's subscriber connection: its feed then lags until it has resubscribed and read back what it missed. */
async function cutSubscriber (t: Test, node: Instance): Promise<void> {
  const admin = redisClient(t)
  const list = await admin.client('LIST') as string
  const line = list.split('\n').find((l) => l.includes(`name=alerts-subscriber-${node.redis.instance}`))
  const id = /id=(\d+)/.exec(line ?? '')?.[1]
  t.ok(id, 'found the subscriber connection')
  await admin.client('KILL', 'ID', id as string)
}

redisTest('caughtUp resolves once the feed has handed over every event published before the call, even one that lags', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  const heard: string[] = []
  a.fastify.backend.feed.subscribe((event) => heard.push(event.id))
  // A has heard the channel once (its starting point is set) before it is cut.
  const before = await publishAlert(b.url, 'before')
  await waitFor(() => heard.length === 1)
  await cutSubscriber(t, a)
  const published = [await publishAlert(b.url, 'p1'), await publishChat(b.url, 'p2'), await publishAlert(b.url, 'p3')].map((e) => e.id)
  await a.fastify.backend.feed.caughtUp?.()
  t.same(heard, [before.id, ...published], 'all three, in order, by the time it resolved')
})

redisTest('a client that reconnects to a lagging instance gets neither the events it had nor the replay twice', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  const onB = await Client.open(`${b.wsUrl}/ws`, t)
  const onA = await Client.open(`${a.wsUrl}/ws`, t)
  // A has heard the channel once (its starting point is set) before it is cut.
  const before = await publishAlert(b.url, 'before')
  t.same(await onA.next(), before)
  t.same(await onB.next(), before)
  await cutSubscriber(t, a)
  // Seen through B while A does not hear the channel.
  const seen = [await publishAlert(b.url, 's1'), await publishChat(b.url, 's2'), await publishAlert(b.url, 's3')]
  t.same(await take(onB, 3), seen)
  // The client moves to A, which has not heard any of them yet.
  const moved = await Client.open(`${a.wsUrl}/ws?since=${seen[1]?.id as string}`, t)
  t.same(await moved.next(), seen[2], 'the replay: only what came after s2')
  await waitFor(() => a.redis.problem() === undefined)
  await nothingElse(t, b, [moved])
})
