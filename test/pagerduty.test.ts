import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { bearer, tokensFile } from './helpers/credentials'
import { alertOf, enqueue, keyOf, severityOf } from '../plugins/core/pagerduty'
import { keptDetails } from '../plugins/core/details'
import { BackendUnavailableError } from '../plugins/core/errors'
import { DETAILS_MAX_BYTES } from '../schemas/events'
import type { PagerDutyEvent } from '../schemas/integrations'

type Json = Record<string, any>

// An event as PagerDuty's Events API v2 documents it (developer.pagerduty.com,
// "Send an Alert Event"), with this server's token as the routing key.
const event = (over: Json = {}, payload: Json = {}): Json => ({
  routing_key: 'pd-token',
  event_action: 'trigger',
  dedup_key: 'srv01/HTTP',
  payload: {
    summary: 'DISK at 99% on machine prod-datapipe03.example.com',
    timestamp: '2015-07-17T08:42:58.315+0000',
    severity: 'critical',
    source: 'prod-datapipe03.example.com',
    component: 'mysql',
    group: 'prod-datapipe',
    class: 'disk',
    custom_details: { free_space: '1%', ping_time: '1500ms', load_avg: 0.75 },
    ...payload
  },
  images: [{ src: 'https://chart.googleapis.com/chart?chs=600x400&chd=t:6,2,9,5,2,5,7,4,7,6&cht=lc', href: 'https://google.com', alt: 'An example link with an image' }],
  links: [{ href: 'http://pagerduty.example.com', text: 'An example link.' }],
  client: 'Sample Monitoring Service',
  client_url: 'https://monitoring.service.com',
  ...over
})

const send = async (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) =>
  await app.inject({ method: 'POST', url: '/v2/enqueue', headers: { 'content-type': 'application/json', ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) })

const accepted = (dedupKey: string): Json => ({ status: 'success', message: 'Event processed', dedup_key: dedupKey })

t.test('mapping: each field, its fallbacks and its limits', async (t) => {
  const full = alertOf(event() as PagerDutyEvent, 'srv01/HTTP')
  t.same(full, {
    key: 'pagerduty:srv01/HTTP',
    message: 'DISK at 99% on machine prod-datapipe03.example.com',
    location: 'prod-datapipe03.example.com',
    severity: 'critical',
    link: 'http://pagerduty.example.com',
    tags: ['mysql', 'prod-datapipe', 'disk'],
    details: { free_space: '1%', ping_time: '1500ms', load_avg: 0.75 }
  })
  t.same(['critical', 'error', 'warning', 'info', undefined].map((s) => severityOf(s as never)), ['critical', 'critical', 'warning', 'info', 'warning'], 'error is critical (PagerDuty pages for both)')
  const bare = alertOf({ event_action: 'trigger', payload: { summary: ' ', source: '\u200b', component: 'api', severity: 'info' }, links: [{ href: 'javascript:alert(1)' }], client_url: 'ftp://x' }, 'k')
  t.same(bare, { key: 'pagerduty:k', message: 'PagerDuty event k', location: 'api', severity: 'info', tags: ['api'] }, 'blank summary and source fall back; unusable links are no link')
  t.equal(alertOf({ event_action: 'trigger', payload: { summary: 's', source: 's', severity: 'info' } }, 'k').location, 's')
  t.equal(alertOf({ event_action: 'trigger', payload: {}, client: 'Uptime Kuma' }, 'k').location, 'Uptime Kuma', 'the client when no source nor component (Uptime Kuma\'s push monitors send none)')
  t.equal(alertOf({ event_action: 'trigger', payload: {} }, 'k').location, 'pagerduty')
  t.equal(alertOf({ event_action: 'trigger', client_url: 'https://am.example/' }, 'k').link, 'https://am.example/', 'client_url when no link')
  t.equal(alertOf({ event_action: 'trigger', links: [{ href: 'nope' }, { href: 'https://second.example/' }] }, 'k').link, 'https://second.example/', 'the first usable link')
  t.equal(alertOf({ event_action: 'trigger', payload: { summary: 'x'.repeat(1100) } }, 'k').message, 'x'.repeat(999) + '…')
  t.same(alertOf({ event_action: 'trigger', payload: { component: 'a', group: 'a', class: 'b' } }, 'k').tags, ['a', 'b'], 'tags without duplicates')
  t.equal(keyOf('a'.repeat(190)), `pagerduty:${'a'.repeat(190)}`, 'keys up to 200 as they are')
  const long = keyOf('b'.repeat(255))
  t.match(long, /^pagerduty:sha256:[0-9a-f]{64}$/, 'a dedup_key too long for a key is keyed by its hash')
  t.equal(keyOf('b'.repeat(255)), long, 'the same every time')
})

t.test('details: objects kept, other values wrapped, past the bound a note', async (t) => {
  t.same(keptDetails({ a: 1 }), { a: 1 })
  t.same(keptDetails('plain text'), { value: 'plain text' })
  t.same(keptDetails([1, 2]), { value: [1, 2] })
  t.equal(keptDetails(null), undefined)
  t.equal(keptDetails({}), undefined)
  t.equal(keptDetails(undefined), undefined)
  const big = keptDetails({ x: 'y'.repeat(DETAILS_MAX_BYTES) })
  t.match(big, { error: new RegExp(`details dropped: \\d+ bytes of JSON, more than the ${DETAILS_MAX_BYTES} kept`) })
})

t.test('trigger raises, repeats by dedup_key; acknowledge and resolve act on it; answers as PagerDuty', async (t) => {
  const { path } = tokensFile(t, [
    { name: 'zabbix', scopes: ['publish', 'operate', 'subscribe'], token: 'pd-token' }
  ])
  const { fastify: app, wsUrl } = await listen(t, { TOKENS_FILE: path })
  const client = await Client.open(`${wsUrl}/ws`, t, { headers: bearer('pd-token') })

  const first = await send(app, event())
  t.equal(first.statusCode, 202)
  t.same(first.json(), accepted('srv01/HTTP'), 'the dedup_key as sent, not the prefixed key')
  const raised = await client.next<Json>()
  t.match(raised, {
    type: 'alert',
    source: 'pagerduty',
    key: 'pagerduty:srv01/HTTP',
    severity: 'critical',
    state: 'open',
    count: 1,
    location: 'prod-datapipe03.example.com',
    link: 'http://pagerduty.example.com',
    tags: ['mysql', 'prod-datapipe', 'disk'],
    details: { free_space: '1%', ping_time: '1500ms', load_avg: 0.75 }
  })

  t.same((await send(app, event({}, { summary: 'DISK at 100%', severity: 'warning', custom_details: undefined }))).json(), accepted('srv01/HTTP'))
  const repeat = await client.next<Json>()
  t.match(repeat, { type: 'alert_update', change: 'repeated', alert: { id: raised.id, count: 2, message: 'DISK at 100%', severity: 'warning' } })
  t.notOk('details' in repeat.alert, 'the latest event\'s details: none')

  t.same((await send(app, { routing_key: 'pd-token', event_action: 'acknowledge', dedup_key: 'srv01/HTTP' })).json(), accepted('srv01/HTTP'))
  t.match(await client.next<Json>(), { change: 'acknowledged', by: 'zabbix', alert: { id: raised.id, state: 'acknowledged', acknowledgedBy: 'zabbix' } })

  // Alertmanager sends its payload with a resolve too: it is checked and not used.
  t.same((await send(app, event({ event_action: 'resolve' }))).json(), accepted('srv01/HTTP'))
  t.match(await client.next<Json>(), { change: 'resolved', by: 'zabbix', alert: { id: raised.id, state: 'resolved', resolvedBy: 'zabbix' } })

  // Nothing open with the key: taken, and nothing changes (as PagerDuty does).
  for (const action of ['acknowledge', 'resolve']) {
    const res = await send(app, { routing_key: 'pd-token', event_action: action, dedup_key: 'never-raised' })
    t.equal(res.statusCode, 202, action)
    t.same(res.json(), accepted('never-raised'))
  }
  t.same((await send(app, { routing_key: 'pd-token', event_action: 'resolve', dedup_key: 'srv01/HTTP' })).json(), accepted('srv01/HTTP'), 'resolving again is fine')

  // A trigger without dedup_key gets one of its own, returned, that later events use.
  const generated = await send(app, event({ dedup_key: undefined }))
  t.equal(generated.statusCode, 202)
  const dedupKey = generated.json().dedup_key as string
  t.match(dedupKey, /^[0-9a-f]{32}$/)
  t.match(await client.next<Json>(), { type: 'alert', key: `pagerduty:${dedupKey}` })
  t.same((await send(app, { routing_key: 'pd-token', event_action: 'resolve', dedup_key: dedupKey })).json(), accepted(dedupKey))
  t.match(await client.next<Json>(), { change: 'resolved', alert: { key: `pagerduty:${dedupKey}` } })

  const board = (await app.inject({ url: '/alerts', headers: bearer('pd-token') })).json()
  t.equal(board.count, 2, 'two alerts, nothing else stored')
})

t.test('the routing key is the credential: publish triggers, operate too for acknowledge and resolve', async (t) => {
  const { path } = tokensFile(t, [
    { name: 'uptime-kuma', scopes: ['publish'], token: 'publisher' },
    { name: 'ops', scopes: ['operate'], token: 'operator' },
    { name: 'wall', scopes: ['subscribe'], token: 'reader' },
    { name: 'oncall', scopes: ['admin'], token: 'root' }
  ])
  const app = await build(t, { TOKENS_FILE: path })
  const invalidKey = { status: 'invalid event', message: 'Event object is invalid', errors: ['Invalid routing key'] }

  for (const [name, body, code] of [
    ['no routing key', event({ routing_key: undefined }), 'TOKEN_REQUIRED'],
    ['a wrong one', event({ routing_key: 'guess' }), 'TOKEN_INVALID'],
    ['an empty one', event({ routing_key: '' }), 'TOKEN_INVALID']
  ] as const) {
    const res = await send(app, body)
    t.equal(res.statusCode, 400, name)
    t.same(res.json(), { ...invalidKey, code }, name)
    t.equal(res.headers['www-authenticate'], undefined, 'no bearer challenge: a PagerDuty sender has no use for it')
  }
  const reader = await send(app, event({ routing_key: 'reader' }))
  t.equal(reader.statusCode, 400)
  t.match(reader.json(), { status: 'invalid event', code: 'SCOPE_MISSING', errors: [/^Invalid routing key: this needs the publish scope/] })
  const operator = await send(app, event({ routing_key: 'operator' }))
  t.match(operator.json(), { code: 'SCOPE_MISSING' }, 'operate alone cannot trigger')

  t.equal((await send(app, event({ routing_key: 'publisher' }))).statusCode, 202, 'publish triggers')
  const resolve = { event_action: 'resolve', dedup_key: 'srv01/HTTP' }
  const refused = await send(app, { ...resolve, routing_key: 'publisher' })
  t.equal(refused.statusCode, 400, 'publish alone cannot resolve')
  t.match(refused.json(), { status: 'invalid event', code: 'SCOPE_MISSING', errors: ['Invalid routing key: resolve needs the operate scope, which this token does not have'] })
  t.match((await send(app, { ...resolve, event_action: 'acknowledge', routing_key: 'publisher' })).json(), { code: 'SCOPE_MISSING' }, 'nor acknowledge')
  t.equal((await app.inject({ url: '/alerts?state=open', headers: bearer('root') })).json().count, 1, 'still open')

  const done = await send(app, { ...resolve, routing_key: 'root' })
  t.equal(done.statusCode, 202, 'admin resolves')
  t.match((await app.inject({ url: '/alerts', headers: bearer('root') })).json().alerts, [{ state: 'resolved', resolvedBy: 'oncall' }], 'by the token\'s name')

  const header = await send(app, event({ routing_key: 'anything', dedup_key: 'by-header' }), bearer('publisher'))
  t.equal(header.statusCode, 202, 'an Authorization header, when sent, is the credential')
})

t.test('without credentials the server is open: any routing key, or none; by "pagerduty"', async (t) => {
  const app = await build(t)
  t.equal((await send(app, event({ routing_key: undefined }))).statusCode, 202)
  t.equal((await send(app, { routing_key: 'x', event_action: 'resolve', dedup_key: 'srv01/HTTP' })).statusCode, 202)
  t.match((await app.inject('/alerts')).json().alerts, [{ state: 'resolved', resolvedBy: 'pagerduty' }])
})

t.test('invalid events: 400 in PagerDuty\'s shape naming the field, nothing stored', async (t) => {
  const app = await build(t, { API_TOKEN: 'pd-token' })
  const bad: Array<[unknown, RegExp]> = [
    [event({ event_action: 'escalate' }), /body\/event_action/],
    [event({ event_action: undefined }), /event_action is required/],
    [event({ payload: undefined }), /body\/payload is required/],
    [event({}, { summary: undefined }), /body\/payload\/summary is required/],
    [event({}, { severity: undefined }), /body\/payload\/severity is required/],
    [event({}, { severity: 'high' }), /body\/payload\/severity/],
    [event({}, { summary: 42 }), /body\/payload\/summary must be string/],
    [event({}, { summary: '\ud800' }), /well-formed/],
    [event({ dedup_key: 'k'.repeat(256) }), /dedup_key must be at most 255/],
    [{ routing_key: 'pd-token', event_action: 'resolve' }, /body\/dedup_key is required/],
    [{ routing_key: 'pd-token', event_action: 'acknowledge', dedup_key: '' }, /dedup_key must not be empty/],
    [event({ links: [{ text: 'no href' }] }), /links\/0\/href is required/],
    [event({ images: 'x' }), /images must be array/]
  ]
  for (const [body, error] of bad) {
    const res = await send(app, body)
    t.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 100))
    t.match(res.json(), { status: 'invalid event', message: 'Event object is invalid', errors: [error], code: 'VALIDATION_FAILED' })
  }
  // The credential is looked for before the event is checked: without one, nothing more is said.
  const open = await build(t)
  for (const [body, error] of [[event({ routing_key: 5 }), /routing_key must be string/], [[], /body must be object/], ['"text"', /body must be object/]] as const) {
    t.match((await send(app, body)).json(), { status: 'invalid event', errors: ['Invalid routing key'], code: 'TOKEN_REQUIRED' })
    t.match((await send(open, body)).json(), { status: 'invalid event', errors: [error], code: 'VALIDATION_FAILED' }, 'an open server says what is wrong')
  }
  t.match((await send(app, event({ routing_key: 'guess', event_action: 'nope' }))).json(), { errors: ['Invalid routing key'], code: 'TOKEN_INVALID' })
  const broken = await send(app, '{"routing_key":')
  t.match(broken.json(), { status: 'invalid event', code: 'INVALID_JSON', errors: [/not valid JSON/] })
  const large = await send(app, event({}, { custom_details: { pad: 'x'.repeat(600 * 1024) } }))
  t.equal(large.statusCode, 413, 'over 512 KiB, as PagerDuty\'s own limit')
  t.match(large.json(), { statusCode: 413, code: 'BODY_TOO_LARGE' })
  const form = await app.inject({ method: 'POST', url: '/v2/enqueue', headers: { 'content-type': 'text/plain' }, payload: 'x' })
  t.equal(form.statusCode, 415)
  t.same((await app.inject({ url: '/alerts', headers: bearer('pd-token') })).json().count, 0, 'nothing stored')

  // Big custom_details within the body limit: the alert is raised, its details say what was dropped.
  const bulky = await send(app, event({}, { custom_details: { log: 'x'.repeat(100 * 1024) } }))
  t.equal(bulky.statusCode, 202)
  t.match((await app.inject({ url: '/alerts', headers: bearer('pd-token') })).json().alerts[0].details, { error: /details dropped/ })
})

t.test('each event counts against its credential\'s publish budget; 429 past it, which senders retry', async (t) => {
  const { path } = tokensFile(t, [
    { name: 'grafana', scopes: ['publish'], token: 'one' },
    { name: 'zabbix', scopes: ['publish'], token: 'two' }
  ])
  const app = await build(t, { TOKENS_FILE: path, RATE_LIMIT_MAX: 2 })
  t.equal((await send(app, event({ routing_key: 'one', dedup_key: 'a' }))).statusCode, 202)
  t.equal((await send(app, event({ routing_key: 'one', dedup_key: 'b' }))).statusCode, 202)
  const over = await send(app, event({ routing_key: 'one', dedup_key: 'c' }))
  t.equal(over.statusCode, 429)
  t.match(over.json(), { statusCode: 429, code: 'RATE_LIMITED' })
  t.ok(over.headers['retry-after'], 'with Retry-After')
  t.equal((await send(app, event({ routing_key: 'two', dedup_key: 'd' }))).statusCode, 202, 'another credential, from the same address, has its own budget')
})

t.test('the events Zabbix and Uptime Kuma send, as their sources build them', async (t) => {
  const { path } = tokensFile(t, [{ name: 'monitoring', scopes: ['publish', 'operate', 'subscribe'], token: 'pd-token' }])
  const app = await build(t, { TOKENS_FILE: path })
  // zabbix/zabbix templates/media/pagerduty/media_pagerduty.yaml: a problem, then its recovery, by event id.
  const problem = {
    routing_key: 'pd-token',
    dedup_key: '4311',
    event_action: 'trigger',
    payload: {
      summary: 'Problem: High CPU utilization',
      source: 'db1 : 10.0.0.5',
      severity: 'error',
      custom_details: { 'Event date': '2026.01.01', 'Event time': '12:00:00', 'Trigger description': '', 'Trigger opdata': 'Current utilization: 97 %', 'Event tags': 'scope:performance', 'Event host': 'db1', 'Event host ip': '10.0.0.5' }
    },
    links: [{ href: 'https://zabbix.example.com/tr_events.php?triggerid=2301&eventid=4311', text: 'Event link' }],
    client: 'Zabbix',
    client_url: 'https://zabbix.example.com'
  }
  const zabbix = await send(app, problem)
  t.equal(zabbix.statusCode, 202)
  t.same(zabbix.json(), accepted('4311'), 'a JSON answer with status success: what the script checks')
  t.same((await send(app, { routing_key: 'pd-token', dedup_key: '4311', event_action: 'acknowledge' })).json(), accepted('4311'))
  t.same((await send(app, { routing_key: 'pd-token', dedup_key: '4311', event_action: 'resolve' })).json(), accepted('4311'))
  t.match((await app.inject({ url: '/alerts?key=pagerduty:4311', headers: bearer('pd-token') })).json().alerts, [{
    message: 'Problem: High CPU utilization', location: 'db1 : 10.0.0.5', severity: 'critical', state: 'resolved', acknowledgedBy: 'monitoring', link: 'https://zabbix.example.com/tr_events.php?triggerid=2301&eventid=4311', details: { 'Event host': 'db1' }
  }])
  // louislam/uptime-kuma server/notification-providers/pagerduty.js: a push monitor has no hostname nor URL, so no source.
  const down = { payload: { summary: '[Uptime Kuma Monitor 🔴 Down] [nightly push] No heartbeat in the time window', severity: 'warning' }, routing_key: 'pd-token', event_action: 'trigger', dedup_key: 'Uptime Kuma/7' }
  t.same((await send(app, down)).json(), accepted('Uptime Kuma/7'))
  t.same((await send(app, { ...down, event_action: 'resolve', payload: { ...down.payload, summary: '[Uptime Kuma Monitor ✅ Up] [nightly push] OK' } })).json(), accepted('Uptime Kuma/7'))
  t.match((await app.inject({ url: '/alerts?key=pagerduty:Uptime%20Kuma/7', headers: bearer('pd-token') })).json().alerts, [{ location: 'pagerduty', severity: 'warning', state: 'resolved' }])
})

t.test('core: a backend failure while resolving is not taken for "nothing to resolve"', async (t) => {
  const publisher = {
    publish: async () => { throw new Error('unused') },
    act: async () => { throw new BackendUnavailableError('Redis is unavailable') }
  }
  await t.rejects(enqueue({ event_action: 'resolve', dedup_key: 'k' }, publisher as never, 'x'), BackendUnavailableError)
})

t.test('OpenAPI: the route, its bodies and its PagerDuty answers', async (t) => {
  const app = await build(t)
  const doc = (await app.inject('/docs/json')).json()
  const route = doc.paths['/v2/enqueue'].post
  t.ok(route.requestBody.content['application/json'].schema.properties.routing_key)
  t.same(Object.keys(route.responses['202'].content['application/json'].schema.properties), ['status', 'message', 'dedup_key'])
  t.ok(route.responses['400'].content['application/json'].schema.properties.errors)
  t.notOk(route.responses['401'], 'no 401: a bad routing key is a 400')
})
