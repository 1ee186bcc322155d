import t from 'tap'
import { listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { post } from './helpers/http'
import { listeningPort, monitoringTests, promtool, start } from './helpers/monitoring'
import { bearer, tokensFile } from './helpers/credentials'

type Json = Record<string, any>

// The real Alertmanager and Prometheus of Debian's packages, on free loopback
// ports, talking to a real server over real sockets.

const alertmanagerTest = monitoringTests(t, 'alertmanager')
const prometheusTest = monitoringTests(t, 'prometheus', 'promtool')

alertmanagerTest('Alertmanager\'s webhook: alerts posted to its v2 API arrive on /ws mapped, and resolving them there resolves them here', async (t) => {
  const token = 'am-token'
  const { url, wsUrl } = await listen(t, { API_TOKEN: token, AM_TAG_LABELS: 'team' })
  const client = await Client.open(`${wsUrl}/ws`, t, { headers: { authorization: `Bearer ${token}` } })
  // The receiver configuration the README shows, with short waits.
  const config = `
route:
  receiver: alert-server
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: alert-server
    webhook_configs:
      - url: ${url}/integrations/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: ${token}
`
  const am = start(t, 'alertmanager', { file: 'alertmanager.yml', text: config }, (dir, path) => [
    `--config.file=${path}`, `--storage.path=${dir}`, '--web.listen-address=127.0.0.1:0', '--cluster.listen-address=', '--log.level=info'
  ])
  const api = `http://127.0.0.1:${await listeningPort(am)}`

  const labels = { alertname: 'DiskFull', severity: 'critical', instance: 'db1:9100', team: 'storage' }
  const annotations = { summary: 'Disk almost full on db1' }
  const generatorURL = 'http://prometheus.example:9090/graph?g0.expr=disk'
  const startsAt = new Date().toISOString()
  const sent = await fetch(`${api}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ labels, annotations, generatorURL, startsAt }]) })
  t.equal(sent.status, 200, 'Alertmanager took the alert')
  // Its webhook delivery is the event waited for; the fingerprint is then Alertmanager's own.
  const raised = await client.next<Json>()
  const stored = await (await fetch(`${api}/api/v2/alerts`)).json() as Json[]
  t.equal(stored.length, 1)
  const fingerprint = stored[0]?.fingerprint as string
  t.match(raised, {
    type: 'alert',
    source: 'alertmanager',
    key: `alertmanager:${fingerprint}`,
    severity: 'critical',
    location: 'db1:9100',
    message: 'Disk almost full on db1',
    link: generatorURL,
    tags: ['DiskFull', 'storage'],
    state: 'open'
  })

  // Resolved in Alertmanager: an end in the past.
  const endsAt = new Date().toISOString()
  await fetch(`${api}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ labels, annotations, generatorURL, startsAt, endsAt }]) })
  const resolved = await client.next<Json>()
  t.match(resolved, { type: 'alert_update', change: 'resolved', by: 'alertmanager', alert: { id: raised.id, state: 'resolved', resolvedBy: 'alertmanager' } })
  const board = await (await fetch(`${url}/alerts?key=alertmanager:${fingerprint}`, { headers: { authorization: `Bearer ${token}` } })).json() as Json
  t.match(board.alerts, [{ id: raised.id, state: 'resolved' }], 'HTTP reads it resolved too')
})

alertmanagerTest('Alertmanager\'s pagerduty_configs pointed at /v2/enqueue: firing raises, resolved resolves, one dedup_key throughout', async (t) => {
  // Resolving needs operate as well as publish; the wall display only reads.
  const { path } = tokensFile(t, [
    { name: 'alertmanager', scopes: ['publish', 'operate'], token: 'am-routing-key' },
    { name: 'wall', scopes: ['subscribe'], token: 'wall' }
  ])
  const { url, wsUrl } = await listen(t, { TOKENS_FILE: path })
  const client = await Client.open(`${wsUrl}/ws`, t, { headers: bearer('wall') })
  // The receiver as docs/integrations.md shows it, with short waits.
  const config = `
route:
  receiver: alert-server
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: alert-server
    pagerduty_configs:
      - routing_key: am-routing-key
        url: ${url}/v2/enqueue
        send_resolved: true
        severity: '{{ .CommonLabels.severity }}'
        details:
          runbook: https://runbooks.example.com/disk
`
  const am = start(t, 'alertmanager', { file: 'alertmanager.yml', text: config }, (dir, path) => [
    `--config.file=${path}`, `--storage.path=${dir}`, '--web.listen-address=127.0.0.1:0', '--cluster.listen-address=', '--log.level=debug'
  ])
  const api = `http://127.0.0.1:${await listeningPort(am)}`

  const labels = { alertname: 'DiskFull', severity: 'warning', instance: 'db1:9100' }
  const annotations = { summary: 'Disk almost full on db1' }
  const startsAt = new Date().toISOString()
  const post = async (extra: Json = {}): Promise<number> => (await fetch(`${api}/api/v2/alerts`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ labels, annotations, startsAt, ...extra }])
  })).status
  t.equal(await post(), 200, 'Alertmanager took the alert')
  // Its PagerDuty delivery is the event waited for.
  const raised = await client.next<Json>()
  t.match(raised, {
    type: 'alert',
    source: 'pagerduty',
    key: /^pagerduty:[0-9a-f]{64}$/,
    severity: 'warning',
    location: 'Alertmanager',
    message: /^\[FIRING:1\] DiskFull/,
    state: 'open',
    details: { firing: /Disk almost full on db1/, num_firing: '1', num_resolved: '0', runbook: 'https://runbooks.example.com/disk' }
  })

  t.equal(await post({ endsAt: new Date().toISOString() }), 200)
  const resolved = await client.next<Json>()
  t.match(resolved, { type: 'alert_update', change: 'resolved', by: 'alertmanager', alert: { id: raised.id, key: raised.key, state: 'resolved', resolvedBy: 'alertmanager' } }, 'the same dedup_key resolves the same alert')
  t.notMatch(am.output(), /Notify for alerts failed/, 'Alertmanager saw every delivery succeed')
})

prometheusTest('/metrics passes promtool check metrics, gauges included', async (t) => {
  const { fastify: app } = await listen(t)
  await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l', severity: 'critical' } })
  await app.inject({ method: 'POST', url: '/heartbeats/backup' })
  const body = (await app.inject('/metrics')).body
  t.match(body, /alert_server_open_alerts\{severity="critical",state="open"\} 1/)
  t.match(body, /alert_server_heartbeat_monitors\{state="up"\} 1/)
  const checked = await promtool(['check', 'metrics'], body)
  t.equal(checked.status, 0, `promtool: ${checked.output}`)
  // promtool does fail on bad output: the check above can fail.
  const broken = await promtool(['check', 'metrics'], '# TYPE x gauge\nx_total{a="1"} 1\n')
  t.not(broken.status, 0)
})

prometheusTest('a real Prometheus scrapes the server and reads the gauges back through its query API', async (t) => {
  const { fastify: app, url } = await listen(t, { METRICS_TOKEN: 'scrape' })
  // Prometheus scrapes, stores what it read, then waits for the next interval:
  // by its second scrape the first one's samples are queryable.
  let scrapes = 0
  const scrapedTwice = new Promise<void>((resolve, reject) => {
    const limit = setTimeout(() => { reject(new Error(`Prometheus scraped ${scrapes} times in 30 s:\n${prometheus.output()}`)) }, 30_000)
    app.server.on('request', (request) => {
      if (request.url !== '/metrics' || ++scrapes < 2) return
      clearTimeout(limit)
      resolve()
    })
  })
  for (const severity of ['critical', 'critical', 'warning']) {
    await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l', severity } })
  }
  await post(`${url}/heartbeats/backup`, {})
  const config = `
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: alert-server
    authorization:
      credentials: scrape
    static_configs:
      - targets: ['${url.replace('http://', '')}']
`
  const prometheus = start(t, 'prometheus', { file: 'prometheus.yml', text: config }, (dir, path) => [
    `--config.file=${path}`, `--storage.tsdb.path=${dir}`, '--web.listen-address=127.0.0.1:0', '--log.level=info'
  ])
  const api = `http://127.0.0.1:${await listeningPort(prometheus)}`
  const query = async (promql: string): Promise<Json[]> => {
    const answer = await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`)).json() as Json
    return answer.data.result as Json[]
  }
  await scrapedTwice
  const [critical] = await query('alert_server_open_alerts{severity="critical",state="open"}')
  t.equal((critical as Json).value[1], '2', 'two critical open alerts, as scraped')
  t.match((critical as Json).metric, { job: 'alert-server' })
  const [up] = await query('alert_server_heartbeat_monitors{state="up"}')
  t.equal((up as Json).value[1], '1')
  const [health] = await query('up{job="alert-server"}')
  t.equal((health as Json).value[1], '1', 'the scrape with METRICS_TOKEN succeeds')
})
