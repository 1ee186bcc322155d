import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { bearer, tokensFile } from './helpers/credentials'
import { keyOf, labelsFingerprint, receive, stepOf, type GrafanaMapping } from '../plugins/core/grafana'
import { BackendUnavailableError } from '../plugins/core/errors'
import type { GrafanaAlert } from '../schemas/integrations'

type Json = Record<string, any>

const clone = <T>(value: T): T => structuredClone(value)

// Grafana's documented example, as published: grafana/grafana,
// docs/sources/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier.md
// ("Webhook JSON payload"). Two firing alerts, the legacy title, state and message included.
const documented = {
  receiver: 'My Super Webhook',
  status: 'firing',
  orgId: 1,
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'High memory usage', team: 'blue', zone: 'us-1' },
      annotations: { description: 'The system has high memory usage', runbook_url: 'https://myrunbook.com/runbook/1234', summary: 'This alert was triggered for zone us-1' },
      startsAt: '2021-10-12T09:51:03.157076+02:00',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'https://play.grafana.org/alerting/1afz29v7z/edit',
      fingerprint: 'c6eadffa33fcdf37',
      silenceURL: 'https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1',
      dashboardURL: '',
      panelURL: '',
      values: { B: 44.23943737541908, C: 1 }
    },
    {
      status: 'firing',
      labels: { alertname: 'High CPU usage', team: 'blue', zone: 'eu-1' },
      annotations: { description: 'The system has high CPU usage', runbook_url: 'https://myrunbook.com/runbook/1234', summary: 'This alert was triggered for zone eu-1' },
      startsAt: '2021-10-12T09:56:03.157076+02:00',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'https://play.grafana.org/alerting/d1rdpdv7k/edit',
      fingerprint: 'bc97ff14869b13e3',
      silenceURL: 'https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1',
      dashboardURL: '',
      panelURL: '',
      values: { B: 44.23943737541908, C: 1 }
    }
  ],
  groupLabels: {},
  commonLabels: { team: 'blue' },
  commonAnnotations: {},
  externalURL: 'https://play.grafana.org/',
  version: '1',
  groupKey: '{}:{}',
  truncatedAlerts: 0,
  title: '[FIRING:2]  (blue)',
  state: 'alerting',
  message: '**Firing**\n\nLabels:\n - alertname = T2\n - team = blue\n - zone = us-1\nAnnotations:\n - description = This is the alert rule checking the second system\n - runbook_url = https://myrunbook.com\n - summary = This is my summary\nSource: https://play.grafana.org/alerting/1afz29v7z/edit\nSilence: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1\n\nLabels:\n - alertname = T1\n - team = blue\n - zone = eu-1\nAnnotations:\nSource: https://play.grafana.org/alerting/d1rdpdv7k/edit\nSilence: https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1\n'
}

// What Grafana's own webhook notifier sends, from its tests: grafana/alerting,
// receivers/webhook/v1/webhook_test.go, TestNotify_CustomPayload "Custom payload with one alert"
// (the default payload). Its legacy fields as Go writes them: values null,
// valueString, dashboardURL and panelURL empty, orgId on the alert.
const fromSource = {
  alerts: [{
    status: 'firing',
    labels: { alertname: 'alert1', lbl1: 'val1' },
    annotations: { ann1: 'annv1' },
    startsAt: '0001-01-01T00:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://localhost/test?orgId=1',
    fingerprint: 'fac0861a85de433a',
    silenceURL: 'http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1&orgId=1',
    dashboardURL: '',
    orgId: 1,
    panelURL: '',
    values: null,
    valueString: ''
  }],
  commonAnnotations: { ann1: 'annv1' },
  commonLabels: { alertname: 'alert1', lbl1: 'val1' },
  externalURL: 'http://localhost',
  groupKey: 'alertname',
  groupLabels: { alertname: '' },
  message: '**Firing**\n\nValue: [no value]\nLabels:\n - alertname = alert1\n - lbl1 = val1\nAnnotations:\n - ann1 = annv1\nSource: http://localhost/test?orgId=1\nSilence: http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1&orgId=1\n',
  orgId: 1,
  receiver: 'my_receiver',
  state: 'alerting',
  status: 'firing',
  title: '[FIRING:1]  (val1)',
  truncatedAlerts: 0,
  version: '1'
}

// The same file, TestNotify "with Authorization set": the alert of a rule tied
// to a dashboard panel carries the legacy dashboardURL and panelURL.
const withPanel = {
  ...fromSource.alerts[0],
  dashboardURL: 'http://localhost/d/abcd?orgId=1',
  panelURL: 'http://localhost/d/abcd?orgId=1&viewPanel=efgh',
  values: undefined,
  valueString: undefined
}

const mapping: GrafanaMapping = { locationLabel: 'instance', tagLabels: ['team', 'zone'] }

const post = async (app: FastifyInstance, body: unknown, method: 'POST' | 'PUT' = 'POST', headers: Record<string, string> = {}) =>
  await app.inject({ method, url: '/integrations/grafana', headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) })

t.test('the fingerprint of a label set is Grafana\'s own (its test fixtures\' values)', async (t) => {
  // grafana/alerting receivers/webhook/v1/webhook_test.go: these labels carry these fingerprints.
  t.equal(labelsFingerprint({ alertname: 'alert1', lbl1: 'val1' }), 'fac0861a85de433a')
  t.equal(labelsFingerprint({ lbl1: 'val2', alertname: 'alert1' }), 'fab6861a85d5eeb5', 'whatever the order of the keys')
  t.equal(labelsFingerprint({}), 'cbf29ce484222325', 'no labels: FNV-1a\'s offset, as Prometheus')
  t.equal(keyOf({ labels: { alertname: 'alert1', lbl1: 'val1' } }), 'grafana:fac0861a85de433a', 'no fingerprint: computed')
  t.equal(keyOf({ fingerprint: '', labels: { alertname: 'alert1', lbl1: 'val1' } }), 'grafana:fac0861a85de433a', 'an empty one too')
  t.equal(keyOf({ fingerprint: 'abc', labels: {} }), 'grafana:abc', 'one sent is used as sent')
  t.equal(keyOf({ labels: null }), 'grafana:cbf29ce484222325', 'null labels (an empty Go map)')
})

t.test('mapping, as a table: each field and its fallbacks', async (t) => {
  const doc = documented.alerts[0] as GrafanaAlert
  t.same(stepOf(doc, mapping), {
    kind: 'raise',
    fields: {
      key: 'grafana:c6eadffa33fcdf37',
      message: 'This alert was triggered for zone us-1',
      location: 'grafana',
      severity: 'warning',
      link: 'https://myrunbook.com/runbook/1234',
      tags: ['High memory usage', 'blue', 'us-1'],
      details: {
        values: { B: 44.23943737541908, C: 1 },
        runbook_url: 'https://myrunbook.com/runbook/1234',
        generatorURL: 'https://play.grafana.org/alerting/1afz29v7z/edit',
        silenceURL: 'https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1'
      }
    }
  }, 'the documented alert, empty legacy URLs left out')
  const rows: Array<[string, Partial<GrafanaAlert>, Json]> = [
    ['description when no summary', { annotations: { description: 'd' } }, { message: 'd' }],
    ['alertname when neither', { annotations: {} }, { message: 'High memory usage' }],
    ['null annotations', { annotations: null }, { message: 'High memory usage', link: 'https://play.grafana.org/alerting/1afz29v7z/edit' }],
    ['the key when nothing else', { labels: {}, annotations: {} }, { message: 'Grafana alert c6eadffa33fcdf37', location: 'grafana', severity: 'warning', tags: undefined }],
    ['the location label', { labels: { instance: 'db1:9100', grafana_folder: 'DB' } }, { location: 'db1:9100' }],
    ['grafana_folder when no location label', { labels: { grafana_folder: 'Databases' } }, { location: 'Databases' }],
    ['severity label', { labels: { severity: 'Critical' } }, { severity: 'critical' }],
    ['unknown severity is warning', { labels: { severity: 'P1' } }, { severity: 'warning' }],
    ['panelURL when no runbook', { annotations: {}, dashboardURL: withPanel.dashboardURL, panelURL: withPanel.panelURL }, { link: 'http://localhost/d/abcd?orgId=1&viewPanel=efgh' }],
    ['dashboardURL when no panel', { annotations: {}, dashboardURL: 'http://localhost/d/abcd', panelURL: '' }, { link: 'http://localhost/d/abcd' }],
    ['generatorURL last', { annotations: { runbook_url: 'not a url' } }, { link: 'https://play.grafana.org/alerting/1afz29v7z/edit' }],
    ['no usable URL: no link', { annotations: {}, generatorURL: 'javascript:alert(1)' }, { link: undefined }],
    ['resolved', { status: 'resolved' }, { kind: 'resolve', key: 'grafana:c6eadffa33fcdf37', fields: undefined }]
  ]
  for (const [name, over, expected] of rows) {
    const step = stepOf({ ...clone(doc), ...over } as GrafanaAlert, mapping) as Json
    const fields = step.fields ?? {}
    for (const [field, value] of Object.entries(expected)) t.same(field === 'kind' || field === 'key' || field === 'fields' ? step[field] : fields[field], value, `${name}: ${field}`)
  }
  const source = stepOf(fromSource.alerts[0] as GrafanaAlert, mapping) as Json
  t.same(source.fields.details, {
    generatorURL: 'http://localhost/test?orgId=1',
    silenceURL: 'http://localhost/alerting/silence/new?alertmanager=grafana&matcher=alertname%3Dalert1&matcher=lbl1%3Dval1&orgId=1'
  }, 'values null and valueString empty: not kept')
  t.same((stepOf({ ...clone(doc), values: {}, valueString: '[ var=\'B\' value=44 ]' } as GrafanaAlert, mapping) as Json).fields.details.valueString, '[ var=\'B\' value=44 ]', 'older Grafana\'s valueString kept')
})

t.test('the documented payload: two alerts on /ws; again: repeats; resolved: resolves; mixed', async (t) => {
  const { fastify: app, wsUrl } = await listen(t, { GRAFANA_TAG_LABELS: 'team, zone', GRAFANA_LOCATION_LABEL: 'zone' })
  const client = await Client.open(`${wsUrl}/ws`, t)
  const first = await post(app, documented)
  t.equal(first.statusCode, 200)
  t.same(first.json(), { raised: 2, repeated: 0, resolved: 0 })
  const memory = await client.next<Json>()
  t.match(memory, {
    type: 'alert',
    source: 'grafana',
    key: 'grafana:c6eadffa33fcdf37',
    message: 'This alert was triggered for zone us-1',
    location: 'us-1',
    severity: 'warning',
    link: 'https://myrunbook.com/runbook/1234',
    tags: ['High memory usage', 'blue', 'us-1'],
    details: { values: { B: 44.23943737541908, C: 1 } },
    state: 'open'
  })
  const cpu = await client.next<Json>()
  t.match(cpu, { key: 'grafana:bc97ff14869b13e3', location: 'eu-1' })

  // Grafana sends with PUT when the contact point says so.
  t.same((await post(app, documented, 'PUT')).json(), { raised: 0, repeated: 2, resolved: 0 })
  t.match(await client.next<Json>(), { change: 'repeated', alert: { id: memory.id, count: 2 } })
  t.match(await client.next<Json>(), { change: 'repeated', alert: { id: cpu.id, count: 2 } })

  // Mixed: the group still fires, one of its alerts is resolved (endsAt set).
  const mixed = clone(documented)
  mixed.alerts[1] = { ...mixed.alerts[1], status: 'resolved', endsAt: '2021-10-12T10:06:03.157076+02:00' } as typeof mixed.alerts[1]
  t.same((await post(app, mixed)).json(), { raised: 0, repeated: 1, resolved: 1 })
  t.match(await client.next<Json>(), { change: 'repeated', alert: { id: memory.id, count: 3 } })
  t.match(await client.next<Json>(), { change: 'resolved', by: 'grafana', note: 'resolved in Grafana', alert: { id: cpu.id, state: 'resolved', resolvedBy: 'grafana' } })

  // All resolved: the payload as Grafana sends it then (status resolved, legacy state ok).
  const resolved = { ...clone(documented), status: 'resolved', state: 'ok', title: '[RESOLVED]  (blue)', alerts: documented.alerts.map((a) => ({ ...a, status: 'resolved', endsAt: '2021-10-12T10:16:03.157076+02:00' })) }
  t.same((await post(app, resolved)).json(), { raised: 0, repeated: 0, resolved: 1 }, 'one was still open; the other was resolved already')
  t.match(await client.next<Json>(), { change: 'resolved', alert: { id: memory.id, state: 'resolved' } })
  t.same((await post(app, resolved)).json(), { raised: 0, repeated: 0, resolved: 0 }, 'resolving again changes nothing')
  t.same((await post(app, documented)).json(), { raised: 2, repeated: 0, resolved: 0 }, 'firing after resolved: new alerts')
})

t.test('Grafana\'s own payload, legacy fields and all; without a fingerprint, the same alert', async (t) => {
  const app = await build(t)
  t.same((await post(app, fromSource)).json(), { raised: 1, repeated: 0, resolved: 0 })
  const noFingerprint = clone(fromSource)
  delete (noFingerprint.alerts[0] as Partial<typeof noFingerprint.alerts[0]>).fingerprint
  t.same((await post(app, noFingerprint)).json(), { raised: 0, repeated: 1, resolved: 0 }, 'the labels give the same key')
  const panel = { ...clone(fromSource), alerts: [withPanel] }
  t.same((await post(app, panel)).json(), { raised: 0, repeated: 1, resolved: 0 })
  const board = (await app.inject('/alerts')).json()
  t.match(board.alerts, [{ key: 'grafana:fac0861a85de433a', count: 3, message: 'alert1', location: 'grafana', link: 'http://localhost/d/abcd?orgId=1&viewPanel=efgh', tags: ['alert1'] }])
  t.equal(board.count, 1)
  const gone = { ...clone(noFingerprint), status: 'resolved', alerts: [{ ...noFingerprint.alerts[0], status: 'resolved' }] }
  t.same((await post(app, gone)).json(), { raised: 0, repeated: 0, resolved: 1 }, 'resolved without a fingerprint: found by its labels')
})

t.test('malformed payloads: 400 naming the field, and nothing stored', async (t) => {
  const app = await build(t)
  const good = documented.alerts[0]
  const bad: Array<[unknown, RegExp]> = [
    [{ ...documented, version: '4' }, /body\/version/],
    [{ ...documented, version: undefined }, /version is required/],
    [{ ...documented, alerts: [good, { ...good, status: 'pending' }] }, /alerts\/1\/status/],
    [{ ...documented, alerts: [good, { ...good, labels: { severity: 3 } }] }, /alerts\/1\/labels\/severity must be string/],
    [{ ...documented, alerts: [good, { ...good, labels: undefined }] }, /labels is required/],
    [{ ...documented, alerts: [good, { ...good, fingerprint: 'has space' }] }, /fingerprint/],
    [{ ...documented, alerts: [good, { ...good, annotations: { summary: '\ud800' } }] }, /well-formed/],
    [{ ...documented, alerts: [good, { ...good, values: [1] }] }, /values must be object,null/],
    [{ ...documented, alerts: [good, null] }, /alerts\/1/],
    [{ ...documented, title: 5 }, /title must be string/],
    [{ ...documented, alerts: Array.from({ length: 1001 }, () => good) }, /alerts/],
    [[], /body must be object/]
  ]
  for (const [body, field] of bad) {
    const res = await post(app, body)
    t.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 100))
    t.match(res.json(), { statusCode: 400, code: 'VALIDATION_FAILED', message: field })
  }
  t.match((await post(app, '{"version":"1",')).json(), { statusCode: 400, code: 'INVALID_JSON' })
  t.match((await post(app, { ...documented, message: 'x'.repeat(1024 * 1024) })).json(), { statusCode: 413, code: 'BODY_TOO_LARGE' })
  t.equal((await app.inject({ method: 'POST', url: '/integrations/grafana', headers: { 'content-type': 'text/plain' }, payload: 'hi' })).statusCode, 415)
  t.same((await app.inject('/alerts')).json(), { alerts: [], count: 0 }, 'nothing stored')
  t.same((await post(app, { ...documented, alerts: [] })).json(), { raised: 0, repeated: 0, resolved: 0 }, 'an empty group is fine')
})

t.test('the route sits behind a token with the publish scope (Grafana sends it as an Authorization header)', async (t) => {
  const app = await build(t, { API_TOKEN: 'secret' })
  t.equal((await post(app, documented)).statusCode, 401)
  t.equal((await post(app, documented, 'PUT')).statusCode, 401)
  t.same((await post(app, documented, 'POST', bearer('secret'))).json(), { raised: 2, repeated: 0, resolved: 0 })
})

t.test('a publish-only token resolves only alerts Grafana raised; operate resolves any with the key', async (t) => {
  const { path } = tokensFile(t, [
    { name: 'grafana', scopes: ['publish'], token: 'grafana-token' },
    { name: 'ops', scopes: ['publish', 'operate', 'subscribe'], token: 'ops-token' }
  ])
  const app = await build(t, { TOKENS_FILE: path })
  // Raised through the API, with a key that looks like Grafana's.
  const key = `grafana:${documented.alerts[0]?.fingerprint ?? ''}`
  const raised = await app.inject({ method: 'POST', url: '/alerts', headers: bearer('ops-token'), payload: { message: 'not from Grafana', location: 'x', key } })
  t.equal(raised.statusCode, 200)
  const resolvedGroup = { ...clone(documented), status: 'resolved', alerts: documented.alerts.slice(0, 1).map((a) => ({ ...a, status: 'resolved' })) }
  t.same((await post(app, resolvedGroup, 'POST', bearer('grafana-token'))).json(), { raised: 0, repeated: 0, resolved: 0 }, 'publish alone: not resolved')
  t.match((await app.inject({ url: `/alerts?key=${encodeURIComponent(key)}`, headers: bearer('ops-token') })).json().alerts, [{ state: 'open' }])
  t.same((await post(app, resolvedGroup, 'POST', bearer('ops-token'))).json(), { raised: 0, repeated: 0, resolved: 1 }, 'with operate: resolved')
})

t.test('core: a backend failure while resolving is not taken for "nothing to resolve"', async (t) => {
  const publisher = {
    publish: async () => { throw new Error('unused') },
    act: async () => { throw new BackendUnavailableError('Redis is unavailable') }
  }
  const payload = { ...clone(documented), alerts: [{ ...documented.alerts[0], status: 'resolved' }] }
  await t.rejects(receive(payload as never, publisher as never, mapping), BackendUnavailableError)
})
