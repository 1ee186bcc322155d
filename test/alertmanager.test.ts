import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { fit, receive, severityOf, stepOf, type AlertmanagerMapping } from '../plugins/core/alertmanager'
import { BackendUnavailableError } from '../plugins/core/errors'
import type { AlertmanagerAlert } from '../schemas/integrations'

type Json = Record<string, any>

const mapping: AlertmanagerMapping = { locationLabel: 'instance', tagLabels: ['team', 'env'] }

const amAlert = (over: Partial<AlertmanagerAlert> = {}): AlertmanagerAlert => ({
  status: 'firing',
  labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db1:9100', job: 'node' },
  annotations: { summary: 'Disk almost full on db1', description: 'Only 3% left' },
  startsAt: '2026-01-01T12:00:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: 'http://prometheus:9090/graph?g0.expr=disk',
  fingerprint: 'c3a9d1e2f4b5a6c7',
  ...over
})
const payload = (alerts: unknown[], over: Json = {}): Json => ({
  version: '4',
  status: 'firing',
  receiver: 'alert-server',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  alerts,
  ...over
})
const post = async (app: FastifyInstance, body: unknown) =>
  await app.inject({ method: 'POST', url: '/integrations/alertmanager', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) })

t.test('mapping, as a table: each field and its fallbacks', async (t) => {
  const long = 'x'.repeat(1500)
  const rows: Array<[string, Partial<AlertmanagerAlert>, Json]> = [
    ['every field', {}, { kind: 'raise', key: 'alertmanager:c3a9d1e2f4b5a6c7', message: 'Disk almost full on db1', location: 'db1:9100', severity: 'critical', link: 'http://prometheus:9090/graph?g0.expr=disk', tags: ['DiskFull'] }],
    ['description when no summary', { annotations: { description: 'Only 3% left' } }, { message: 'Only 3% left' }],
    ['description when the summary is blank', { annotations: { summary: ' \u200b ', description: 'Only 3% left' } }, { message: 'Only 3% left' }],
    ['alertname when neither', { annotations: {} }, { message: 'DiskFull' }],
    ['no annotations at all', { annotations: undefined }, { message: 'DiskFull' }],
    ['the fingerprint when nothing else', { labels: {}, annotations: {} }, { message: 'Alertmanager alert c3a9d1e2f4b5a6c7', location: 'alertmanager', severity: 'warning' }],
    ['a long summary is cut to 1000', { annotations: { summary: long } }, { message: 'x'.repeat(999) + '…' }],
    ['job when no instance', { labels: { alertname: 'A', job: 'node' } }, { location: 'node' }],
    ['alertmanager when neither', { labels: { alertname: 'A' } }, { location: 'alertmanager' }],
    ['warning label', { labels: { severity: 'warning' } }, { severity: 'warning' }],
    ['info label', { labels: { severity: 'info' } }, { severity: 'info' }],
    ['upper case', { labels: { severity: 'CRITICAL' } }, { severity: 'critical' }],
    ['unknown severity is warning', { labels: { severity: 'page' } }, { severity: 'warning' }],
    ['no severity is warning', { labels: { alertname: 'A' } }, { severity: 'warning' }],
    ['tags: alertname then the tag labels, deduplicated', { labels: { alertname: 'A', team: 'db', env: 'db' } }, { tags: ['A', 'db'] }],
    ['a generatorURL that is not http(s) is no link', { generatorURL: 'javascript:alert(1)' }, { link: undefined }],
    ['an empty generatorURL is no link', { generatorURL: '' }, { link: undefined }],
    ['a generatorURL over 2000 is no link', { generatorURL: 'http://p/' + 'x'.repeat(2000) }, { link: undefined }],
    ['no labels for tags: no tags', { labels: { instance: 'i' } }, { tags: undefined }],
    ['resolved', { status: 'resolved' }, { kind: 'resolve', key: 'alertmanager:c3a9d1e2f4b5a6c7', message: undefined }]
  ]
  for (const [name, over, expected] of rows) {
    const step = stepOf(amAlert(over), mapping) as Json
    for (const [field, value] of Object.entries(expected)) t.same(step[field], value, `${name}: ${field}`)
  }
  t.same((stepOf(amAlert({ labels: { site: 'Lisbon', instance: 'i' } }), { locationLabel: 'site', tagLabels: [] }) as Json).location, 'Lisbon', 'AM_LOCATION_LABEL names the label')
  const many = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`l${i}`, `v${i}`]))
  const step = stepOf(amAlert({ labels: { alertname: 'A', ...many } }), { locationLabel: 'instance', tagLabels: Object.keys(many) }) as Json
  t.equal(step.tags.length, 10, 'at most 10 tags')
  t.equal(fit('   ' + 'y'.repeat(10), 3), undefined, 'a cut that leaves only blanks is no text')
  t.equal(fit('ab', 2), 'ab')
  t.equal(severityOf(undefined), 'warning')
})

t.test('a firing alert arrives on /ws mapped; a repeat is the same alert; resolved resolves it; counts in the answer', async (t) => {
  const { fastify: app, wsUrl } = await listen(t, { AM_TAG_LABELS: 'team, env' })
  const client = await Client.open(`${wsUrl}/ws`, t)
  const first = await post(app, payload([amAlert({ labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db1:9100', team: 'db' } })]))
  t.equal(first.statusCode, 200)
  t.same(first.json(), { raised: 1, repeated: 0, resolved: 0 })
  const raised = await client.next<Json>()
  t.match(raised, { type: 'alert', source: 'alertmanager', key: 'alertmanager:c3a9d1e2f4b5a6c7', severity: 'critical', location: 'db1:9100', message: 'Disk almost full on db1', link: 'http://prometheus:9090/graph?g0.expr=disk', tags: ['DiskFull', 'db'], state: 'open', count: 1 })

  t.same((await post(app, payload([amAlert()]))).json(), { raised: 0, repeated: 1, resolved: 0 })
  t.match(await client.next<Json>(), { type: 'alert_update', change: 'repeated', alert: { id: raised.id, count: 2 } })

  const resolved = await post(app, payload([amAlert({ status: 'resolved' }), amAlert({ status: 'resolved', fingerprint: 'never-seen' })], { status: 'resolved' }))
  t.same(resolved.json(), { raised: 0, repeated: 0, resolved: 1 }, 'an alert never raised here is not counted')
  t.match(await client.next<Json>(), { type: 'alert_update', change: 'resolved', by: 'alertmanager', alert: { id: raised.id, state: 'resolved', resolvedBy: 'alertmanager' } })
  t.same((await post(app, payload([amAlert({ status: 'resolved' })]))).json(), { raised: 0, repeated: 0, resolved: 0 }, 'resolving again changes nothing')

  t.same((await post(app, payload([amAlert()]))).json(), { raised: 1, repeated: 0, resolved: 0 }, 'firing again after resolved is a new alert')
  t.not((await client.next<Json>()).id, raised.id)
  t.same((await post(app, payload([]))).json(), { raised: 0, repeated: 0, resolved: 0 }, 'an empty group is fine')
})

t.test('malformed payloads: 400 naming the field, and nothing stored (all alerts of a payload or none)', async (t) => {
  const app = await build(t)
  const good = amAlert({ fingerprint: 'good' })
  const bad: Array<[unknown, RegExp]> = [
    [payload([good, { ...amAlert(), fingerprint: '' }]), /alerts\/1\/fingerprint/],
    [payload([good, { ...amAlert(), fingerprint: 'has space' }]), /fingerprint/],
    [payload([good, { ...amAlert(), fingerprint: 'f'.repeat(101) }]), /fingerprint/],
    [payload([good, { ...amAlert(), status: 'pending' }]), /alerts\/1\/status/],
    [payload([good, { ...amAlert(), labels: { severity: 3 } }]), /alerts\/1\/labels\/severity/],
    [payload([good, { ...amAlert(), labels: 'x' }]), /labels/],
    [payload([good, { ...amAlert(), annotations: { summary: '\ud800' } }]), /summary.*well-formed/],
    [payload([good, { status: 'firing', labels: {} }]), /fingerprint is required/],
    [payload([good, null]), /alerts\/1/],
    [payload([good], { version: '3' }), /version/],
    [{ ...payload([good]), version: undefined }, /version is required/],
    [{ ...payload([good]), alerts: undefined }, /alerts is required/],
    [payload([good], { alerts: 'all' }), /alerts/],
    [payload(Array.from({ length: 1001 }, () => good)), /alerts/],
    [payload([good], { status: 'ok' }), /status/],
    [payload([good], { truncatedAlerts: -1 }), /truncatedAlerts/],
    [[], /body/],
    ['text', /body/],
    [42, /body/]
  ]
  for (const [body, field] of bad) {
    const res = await post(app, body)
    t.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 120))
    t.match(res.json(), { statusCode: 400, code: 'VALIDATION_FAILED', message: field })
  }
  const broken = await app.inject({ method: 'POST', url: '/integrations/alertmanager', headers: { 'content-type': 'application/json' }, payload: '{"version":"4",' })
  t.match(broken.json(), { statusCode: 400, code: 'INVALID_JSON' })
  const huge = await post(app, payload([amAlert({ annotations: { summary: 'x'.repeat(9000) } })], { externalURL: 'y'.repeat(9000), padding: 'z'.repeat(1024 * 1024) }))
  t.match(huge.json(), { statusCode: 413, code: 'BODY_TOO_LARGE' })
  const text = await app.inject({ method: 'POST', url: '/integrations/alertmanager', headers: { 'content-type': 'text/plain' }, payload: 'hi' })
  t.equal(text.statusCode, 415)
  t.same((await app.inject('/alerts')).json(), { alerts: [], count: 0 }, 'nothing stored')
})

t.test('a large group (just under 1 MiB, over the API\'s 64 KiB) is taken whole; unknown fields are ignored', async (t) => {
  const app = await build(t, { HISTORY_SIZE: 1000, REPLAY_WINDOW: 1000 })
  const alerts = Array.from({ length: 500 }, (_, i) => amAlert({ fingerprint: `fp${i}`, annotations: { summary: `s${i}`, description: 'd'.repeat(1500) } }))
  const res = await post(app, payload(alerts, { groupKey: '{}:{alertname="DiskFull"}', truncatedAlerts: 0, somethingNew: true }))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { raised: 500, repeated: 0, resolved: 0 })
  t.equal((await app.inject('/alerts?limit=1000')).json().count, 500)
})

t.test('the route sits behind API_TOKEN (Alertmanager sends it with http_config.authorization)', async (t) => {
  const app = await build(t, { API_TOKEN: 'secret' })
  t.equal((await post(app, payload([amAlert()]))).statusCode, 401)
  const res = await app.inject({ method: 'POST', url: '/integrations/alertmanager', headers: { authorization: 'Bearer secret' }, payload: payload([amAlert()]) })
  t.same(res.json(), { raised: 1, repeated: 0, resolved: 0 })
})

// Property-based: generated payloads, valid and not, never get a 5xx, and a
// payload is stored whole (each firing alert's key open) or not at all.
const text = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('', ' ', '\u200b', 'critical', 'warning', 'info', 'CRITICAL', '<b>x</b>', 'x'.repeat(1200), '\ud800'), fc.anything())
const labels = fc.oneof(fc.dictionary(fc.constantFrom('alertname', 'severity', 'instance', 'job', 'team'), text, { maxKeys: 5 }), fc.anything())
const generatedAlert = fc.oneof(
  fc.record({
    status: fc.oneof(fc.constantFrom('firing', 'resolved'), fc.anything()),
    labels,
    annotations: fc.option(fc.dictionary(fc.constantFrom('summary', 'description'), text, { maxKeys: 2 }), { nil: undefined }),
    generatorURL: fc.option(fc.oneof(fc.webUrl(), text), { nil: undefined }),
    fingerprint: fc.oneof(fc.stringMatching(/^[0-9a-f]{1,16}$/), text)
  }, { requiredKeys: ['status', 'labels', 'fingerprint'] }),
  fc.anything()
)
const generatedPayload = fc.oneof(
  fc.record({ version: fc.oneof(fc.constant('4'), fc.anything()), status: fc.constantFrom('firing', 'resolved'), alerts: fc.array(generatedAlert, { maxLength: 6 }) }),
  fc.anything()
)

t.test('generated payloads: never a 5xx, never a partial store', async (t) => {
  const app = await build(t, { HISTORY_SIZE: 100_000, REPLAY_WINDOW: 100_000 })
  await fc.assert(fc.asyncProperty(generatedPayload, async (body) => {
    let raw: string | undefined
    try { raw = JSON.stringify(body) } catch { raw = undefined }
    if (raw === undefined) return true
    const before = (await app.inject('/alerts?limit=1000')).json().count
    const res = await app.inject({ method: 'POST', url: '/integrations/alertmanager', headers: { 'content-type': 'application/json' }, payload: raw })
    t.ok(res.statusCode < 500, `no 5xx (${res.statusCode})`)
    const after = (await app.inject('/alerts?limit=1000')).json().count
    if (res.statusCode !== 200) {
      t.equal(after, before, 'refused: nothing stored')
      return true
    }
    const sent = JSON.parse(raw) as { alerts: Json[] }
    const { raised } = res.json()
    t.equal(after - before, raised, 'every new alert counted')
    for (const alert of sent.alerts) {
      if (alert.status !== 'firing') continue
      const open = await app.inject(`/alerts?key=${encodeURIComponent(`alertmanager:${alert.fingerprint as string}`)}&state=open,acknowledged`)
      t.equal(open.json().count, 1, 'each firing alert of the payload is open')
    }
    return true
  }), { numRuns: 150 })
})

t.test('core: a backend failure while resolving is not taken for "nothing to resolve"', async (t) => {
  const publisher = {
    publish: async () => { throw new Error('unused') },
    act: async () => { throw new BackendUnavailableError('Redis is unavailable') }
  }
  await t.rejects(receive({ version: '4', status: 'resolved', alerts: [amAlert({ status: 'resolved' })] }, publisher, mapping), BackendUnavailableError)
})

t.test('each alert of a payload counts against the publish budget; one request of 1,000 cannot push an acknowledged critical alert off the board', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 100, OPEN_ALERTS_MAX: 1000 })
  const mine = (await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'acked', location: 'x', severity: 'critical' } })).json()
  await app.inject({ method: 'POST', url: `/alerts/${mine.id as string}/ack`, payload: { by: 'ana' } })
  const many = Array.from({ length: 1000 }, (_, i) => amAlert({ fingerprint: `f${i}`, labels: { alertname: `A${i}`, severity: 'info', instance: `h${i}` } }))
  const refused = await post(app, payload(many))
  t.equal(refused.statusCode, 429)
  t.match(refused.json(), { code: 'RATE_LIMITED', message: /^a payload of 1000 alerts passes the publish budget of 100 per window; nothing was stored/ })
  t.ok(Number(refused.headers['retry-after']) > 0, 'says when to retry')
  t.equal((await app.inject('/alerts?limit=1000')).json().count, 1, 'nothing of the payload was stored')
  t.match((await app.inject('/alerts?state=acknowledged')).json().alerts, [{ id: mine.id, state: 'acknowledged' }], 'the acknowledged alert is still there')
})

t.test('a payload within the budget is taken whole, each alert counted', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 10 })
  const five = Array.from({ length: 5 }, (_, i) => amAlert({ fingerprint: `g${i}`, labels: { alertname: `B${i}`, severity: 'warning', instance: 'h' } }))
  t.equal((await post(app, payload(five))).statusCode, 200)
  t.equal((await post(app, payload(five))).statusCode, 200, '5 + 5 = 10, the budget')
  t.equal((await post(app, payload(five.slice(0, 1)))).statusCode, 429, 'the 11th event of the window is refused')
})
