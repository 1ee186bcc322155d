import { post } from './helpers/http'
import { Client } from './helpers/ws-client'
import { StreamClient, fetchText, ndjsonFrames } from './helpers/stream-client'
import { waitFor } from './helpers/wait'
import { cluster, redisEnv, redisTest, type Instance } from './helpers/redis'

redisTest('two instances: streams on each get every event of both, filtered, in one order; Last-Event-ID resumes on the other', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  const sseOnB = await StreamClient.open(`${b.url}/events`, t)
  const criticalOnA = await StreamClient.open(`${a.url}/events?format=ndjson&min_severity=critical&types=alert,alert_update`, t)
  const chatOnA = await Client.open(`${a.wsUrl}/ws?types=chat`, t)
  await waitFor(() => a.fastify.fanout.size === 2 && b.fastify.fanout.size === 1)

  const first = (await post(`${a.url}/alerts`, { message: 'disk', location: 'dc1', severity: 'critical' })).body
  const line = (await post(`${b.url}/message`, { sender: 's', message: 'on it' })).body
  const minor = (await post(`${b.url}/alerts`, { message: 'fan', location: 'dc2', severity: 'info' })).body
  const ack = (await post(`${b.url}/alerts/${first.id as string}/ack`, { by: 'Ana' })).body
  t.equal(ack.state, 'acknowledged')

  const all = await sseOnB.take(4)
  t.same(all.slice(0, 3), [first, line, minor], 'every event of both instances, in publish order')
  t.match(all[3], { type: 'alert_update', alert: { id: first.id } })
  t.same((await criticalOnA.take(2)).map((f) => f.type), ['alert', 'alert_update'], 'the filter holds across instances')
  t.same(await chatOnA.next(), line)

  // The SSE reader loses instance B; it reconnects to A with the last id it had.
  sseOnB.close()
  const later = (await post(`${b.url}/alerts`, { message: 'later', location: 'dc1' })).body
  const resumed = await StreamClient.open(`${a.url}/events`, t, { 'last-event-id': minor.id as string })
  const got = await resumed.take(2)
  t.match(got[0], { type: 'alert_update' })
  t.same(got[1], later, 'the other instance replays from the shared history, nothing missed or doubled')

  const polled = ndjsonFrames((await fetchText(`${b.url}/events?format=ndjson&poll=1&since=1h&types=chat`)).text)
  t.same(polled, [line], 'a poll by duration on either instance reads the shared history')
  const board = (await (await fetch(`${a.url}/alerts?since=${minor.id as string}`)).json()) as { alerts: Array<{ id: string }> }
  t.same(board.alerts.map((x) => x.id).sort(), [first.id, later.id].sort(), 'the board since an event id, from the shared history')
})
