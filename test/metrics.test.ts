import t from 'tap'
import { build, listen } from './helpers/app'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { postAlert } from './helpers/http'

/** The value of one sample line of the Prometheus text, e.g. metric('x_total{type="alert"}'). */
function sample (text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('GET /metrics: connections, events by type, broadcast timing, HTTP durations by route and status', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  await Client.open(`${wsUrl}/ws`, t)
  // Each event is waited for before the next is sent: one batch each.
  for (let i = 0; i < 3; i++) {
    await postAlert(fastify)
    await a.next()
  }
  a.send({ sender: 's', message: 'c' })
  await a.next()
  await fastify.inject({ method: 'POST', url: '/alerts', payload: {} })

  const res = await fastify.inject('/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/plain/)
  const text = res.body
  t.equal(sample(text, 'alert_server_websocket_connections'), 2)
  t.equal(sample(text, 'alert_server_events_published_total{type="alert"}'), 3)
  t.equal(sample(text, 'alert_server_events_published_total{type="chat"}'), 1)
  t.equal(sample(text, 'alert_server_clients_dropped_total{reason="slow"}'), 0)
  t.equal(sample(text, 'alert_server_broadcast_duration_seconds_count'), 4)
  t.equal(sample(text, 'alert_server_http_request_duration_seconds_count{method="POST",route="/alerts",status_code="200"}'), 3)
  t.equal(sample(text, 'alert_server_http_request_duration_seconds_count{method="POST",route="/alerts",status_code="400"}'), 1)
  t.match(text, /process_resident_memory_bytes/, 'process metrics too')
})

t.test('dropped clients are counted by reason', async (t) => {
  const { fastify, wsUrl } = await listen(t, { WS_HEARTBEAT_MS: 20 })
  const dead = await Client.open(`${wsUrl}/ws`, t, { autoPong: false })
  await dead.closed
  await waitFor(() => fastify.fanout.size === 0)
  const text = (await fastify.inject('/metrics')).body
  t.equal(sample(text, 'alert_server_clients_dropped_total{reason="heartbeat"}'), 1)
  t.equal(sample(text, 'alert_server_websocket_connections'), 0)
})

t.test('METRICS_TOKEN opens /metrics and nothing else; API_TOKEN (every scope, admin included) opens it too', async (t) => {
  const app = await build(t, { METRICS_TOKEN: 'scrape-me', API_TOKEN: 'api' })
  t.equal((await app.inject('/metrics')).statusCode, 401)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer api' } })).statusCode, 200)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer scrape-me' } })).statusCode, 200)
  const refused = await app.inject({ url: '/alerts/history', headers: { authorization: 'Bearer scrape-me' } })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'SCOPE_MISSING')
})

t.test('API_TOKEN alone leaves /metrics open, as before scopes existed', async (t) => {
  const app = await build(t, { API_TOKEN: 'api' })
  t.equal((await app.inject('/metrics')).statusCode, 200)
  t.equal((await app.inject('/alerts/history')).statusCode, 401)
})

t.test('two apps in one process keep separate counters', async (t) => {
  const one = await build(t)
  const two = await build(t)
  await postAlert(one)
  t.equal(sample((await two.inject('/metrics')).body, 'alert_server_events_published_total{type="alert"}'), 0)
})
