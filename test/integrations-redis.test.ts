import { mockTimers } from './helpers/clock'
import { Client } from './helpers/ws-client'
import { post } from './helpers/http'
import { waitFor } from './helpers/wait'
import { cluster, instance, redisClient, redisEnv, redisTest, type Instance } from './helpers/redis'

type Json = Record<string, any>

const MINUTE = 60_000

redisTest('heartbeats on two instances: a ping to either counts, one alert per miss for the cluster, the other resolves it', async (t) => {
  const { clock, timers } = mockTimers()
  const env = redisEnv(t, { WS_HEARTBEAT_MS: 0 })
  const [a, b] = await cluster(t, 2, env, { timers }) as [Instance, Instance]
  const onB = await Client.open(`${b.wsUrl}/ws`, t)
  t.equal((await post(`${a.url}/heartbeats/backup?every=1m&grace=0s`, {})).status, 200)
  clock.advance(30_000)
  await post(`${b.url}/heartbeats/backup`, {})
  const listed = await (await fetch(`${a.url}/heartbeats`)).json() as Json
  t.match(listed.heartbeats, [{ name: 'backup', every: '1m', lastPing: new Date(clock.now()).toISOString(), state: 'up' }], 'a ping to B is seen by A')

  clock.advance(MINUTE)
  // Both instances check at once, several times over.
  await Promise.all([a, b, a, b].map(async (node) => await node.fastify.heartbeats.check()))
  const alert = await onB.next<Json>()
  t.match(alert, { type: 'alert', key: 'heartbeat:backup', source: 'heartbeat' })
  await post(`${a.url}/message`, { sender: 's', message: 'marker' })
  t.match(await onB.next<Json>(), { type: 'chat' }, 'one alert for the cluster')

  await post(`${b.url}/heartbeats/backup`, {})
  t.match(await onB.next<Json>(), { type: 'alert_update', change: 'resolved', by: 'heartbeat', alert: { id: alert.id } })
})

redisTest('heartbeat monitors outlive a restart of every instance, and their misses are still raised', async (t) => {
  const { clock, timers } = mockTimers()
  const env = redisEnv(t)
  const first = await instance(t, env, { timers })
  await post(`${first.url}/heartbeats/nightly?every=1d&grace=1h&severity=warning`, {})
  await first.fastify.close()
  const second = await instance(t, env, { timers })
  const listed = await (await fetch(`${second.url}/heartbeats`)).json() as Json
  t.match(listed.heartbeats, [{ name: 'nightly', every: '1d', grace: '1h', severity: 'warning', state: 'up' }])
  const raised: string[] = []
  second.fastify.publisher.onPublish((event) => { if (event.type === 'alert') raised.push(event.key ?? '') })
  clock.advance(25 * 60 * MINUTE)
  // Raised by the check on its timer: waited for, not called.
  await waitFor(() => raised.includes('heartbeat:nightly'))
  const alerts = await (await fetch(`${second.url}/alerts?key=heartbeat:nightly`)).json() as Json
  t.match(alerts.alerts, [{ severity: 'warning', state: 'open' }])
  t.equal((await fetch(`${second.url}/heartbeats/nightly`, { method: 'DELETE' })).status, 200)
})

redisTest('heartbeat ping URLs on two instances: a run started on one ends on the other, a failure raised once, GET pings and the pings kept shared', async (t) => {
  const { clock, timers } = mockTimers()
  const env = redisEnv(t, { WS_HEARTBEAT_MS: 0, HEARTBEATS_MAX: 2 })
  const [a, b] = await cluster(t, 2, env, { timers }) as [Instance, Instance]
  const onB = await Client.open(`${b.wsUrl}/ws`, t)
  t.equal((await fetch(`${a.url}/heartbeats/etl/start?schedule=0%203%20*%20*%20*&tz=Europe/Berlin&grace=1h`)).status, 200, 'GET')
  clock.advance(2 * MINUTE)
  const failed = await (await fetch(`${b.url}/heartbeats/etl/2`, { headers: { 'user-agent': 'etl\tjob' } })).json() as Json
  t.match(failed, { state: 'missed', schedule: '0 3 * * *', tz: 'Europe/Berlin' })
  t.match(await onB.next<Json>(), { type: 'alert', key: 'heartbeat:etl', message: 'etl reported a failure (exit status 2) after 2m' })
  await Promise.all([a, b, a, b].map(async (node) => await node.fastify.heartbeats.check()))
  const shown = await (await fetch(`${a.url}/heartbeats/etl`)).json() as Json
  t.match(shown.pings, [{ kind: 'fail', exitStatus: 2, durationMs: 120_000, userAgent: 'etl job' }, { kind: 'start' }], 'B\'s ping read on A, with the run measured across them')
  await post(`${a.url}/heartbeats/etl/ping`, {})
  t.match(await onB.next<Json>(), { type: 'alert_update', change: 'resolved' }, 'one alert: no miss raised on top of the failure')

  // The cap, for the cluster: concurrent new names through both instances.
  const answers = await Promise.all(['x1', 'x2', 'x3', 'x4'].map(async (name, i) => (await fetch(`${[a, b][i % 2]?.url as string}/heartbeats/${name}/ping`)).status))
  t.same(answers.filter((s) => s === 200).length, 1, 'one more name fits under HEARTBEATS_MAX=2')
  t.same(answers.filter((s) => s === 409).length, 3)
})

redisTest('heartbeats: one instance of the cluster reads the due monitors each period; monitors stored before the due index are put into it', async (t) => {
  const { clock, timers } = mockTimers()
  const env = redisEnv(t, { WS_HEARTBEAT_MS: 0 })
  const prefix = env.REDIS_KEY_PREFIX as string
  const client = redisClient(t)
  // A monitor as a version without deadlines stored it.
  await client.hset(`${prefix}heartbeats`, 'legacy', JSON.stringify({ everyMs: MINUTE, graceMs: 0, severity: 'critical', location: 'old' }))
  await client.hset(`${prefix}heartbeats:last`, 'legacy', String(clock.now()))
  const [a, b] = await cluster(t, 2, env, { timers }) as [Instance, Instance]
  t.match(await (await fetch(`${a.url}/heartbeats/legacy`)).json(), { due: new Date(clock.now() + MINUTE).toISOString(), pings: [] })
  const reads: string[] = []
  for (const [label, node] of [['a', a], ['b', b]] as const) {
    const store = node.redis.heartbeats
    const due = store.due.bind(store)
    store.due = async (now) => { reads.push(label); return await due(now) }
  }
  // The timers of both instances tick too, in the same period.
  clock.advance(MINUTE)
  await Promise.all([a.fastify.heartbeats.tick(), b.fastify.heartbeats.tick()])
  const raised = async (): Promise<Json[]> => (await (await fetch(`${b.url}/alerts?key=heartbeat:legacy`)).json() as Json).alerts
  await waitFor(async () => (await raised()).length === 1)
  t.match(await raised(), [{ state: 'open', location: 'old' }], 'the old monitor was indexed and its miss raised')
  t.equal(reads.length, 1, 'one check for the period, on one instance')
  t.equal(await client.zcard(`${prefix}heartbeats:due`), 0, 'a missed monitor leaves the due index')
})

redisTest('Alertmanager on two instances: a repeat through the other is the same alert, and either resolves it', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  const onA = await Client.open(`${a.wsUrl}/ws`, t)
  const alert = { status: 'firing', labels: { alertname: 'Down', instance: 'web1' }, annotations: { summary: 'web1 is down' }, fingerprint: 'abc' }
  const body = (alerts: Json[]): Json => ({ version: '4', status: 'firing', alerts })
  t.same((await post(`${a.url}/integrations/alertmanager`, body([alert]))).body, { raised: 1, repeated: 0, resolved: 0 })
  t.same((await post(`${b.url}/integrations/alertmanager`, body([alert]))).body, { raised: 0, repeated: 1, resolved: 0 })
  // Alertmanager retrying through both at once: still one alert.
  const both = await Promise.all([a, b].map(async (node) => (await post(`${node.url}/integrations/alertmanager`, body([alert]))).body))
  t.same(both.map((r) => r.repeated), [1, 1])
  t.same((await post(`${b.url}/integrations/alertmanager`, body([{ ...alert, status: 'resolved' }]))).body, { raised: 0, repeated: 0, resolved: 1 })
  const frames = [await onA.next<Json>(), await onA.next<Json>(), await onA.next<Json>(), await onA.next<Json>(), await onA.next<Json>()]
  t.same(frames.map((f) => f.change ?? f.type), ['alert', 'repeated', 'repeated', 'repeated', 'resolved'])
  t.match(frames[4], { alert: { count: 4, state: 'resolved', resolvedBy: 'alertmanager', source: 'alertmanager' } })
})

redisTest('PagerDuty and Grafana on two instances: one alert by key, its details kept as sent through Redis, resolved by the other', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  const onA = await Client.open(`${a.wsUrl}/ws`, t)
  const details = { free: '3%', nested: { list: [1, 'two', null], empty: {}, none: [] }, unicode: 'São Paulo ✓' }
  const trigger = { routing_key: 'x', event_action: 'trigger', dedup_key: 'disk/db1', payload: { summary: 'Disk full', source: 'db1', severity: 'error', custom_details: details } }
  t.same((await post(`${a.url}/v2/enqueue`, trigger)).body, { status: 'success', message: 'Event processed', dedup_key: 'disk/db1' })
  t.equal((await post(`${b.url}/v2/enqueue`, trigger)).status, 202)
  t.equal((await post(`${b.url}/v2/enqueue`, { routing_key: 'x', event_action: 'resolve', dedup_key: 'disk/db1' })).status, 202)
  const frames = [await onA.next<Json>(), await onA.next<Json>(), await onA.next<Json>()]
  t.same(frames.map((f) => f.change ?? f.type), ['alert', 'repeated', 'resolved'])
  t.same(frames[0]?.details, details, 'the details as sent, empty objects and arrays included')
  t.match(frames[2], { alert: { key: 'pagerduty:disk/db1', count: 2, state: 'resolved', resolvedBy: 'pagerduty', severity: 'critical', details } })
  const grafana = { version: '1', status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'alert1', lbl1: 'val1' }, annotations: {}, values: { B: 44.2 } }] }
  t.same((await post(`${a.url}/integrations/grafana`, grafana)).body, { raised: 1, repeated: 0, resolved: 0 })
  t.same((await post(`${b.url}/integrations/grafana`, { ...grafana, status: 'resolved', alerts: [{ ...grafana.alerts[0], status: 'resolved' }] })).body, { raised: 0, repeated: 0, resolved: 1 })
  t.match((await onA.next<Json>()), { type: 'alert', key: 'grafana:fac0861a85de433a', details: { values: { B: 44.2 } } })
  t.match((await onA.next<Json>()), { change: 'resolved', alert: { key: 'grafana:fac0861a85de433a', resolvedBy: 'grafana' } })
})

redisTest('the /metrics gauges read the cluster: alerts raised on one instance are counted on the other', async (t) => {
  const [a, b] = await cluster(t, 2, redisEnv(t)) as [Instance, Instance]
  await post(`${a.url}/alerts`, { message: 'm', location: 'l', severity: 'critical' })
  await post(`${a.url}/heartbeats/x`, {})
  const text = await (await fetch(`${b.url}/metrics`)).text()
  t.match(text, /alert_server_open_alerts\{severity="critical",state="open"\} 1/)
  t.match(text, /alert_server_heartbeat_monitors\{state="up"\} 1/)
})
