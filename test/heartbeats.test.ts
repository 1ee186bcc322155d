import t from 'tap'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { build, listen } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { Client } from './helpers/ws-client'
import { waitFor } from './helpers/wait'
import { formatDuration, parseDuration } from '../plugins/core/duration'
import { createMemoryBackend } from '../plugins/core/memory-backend'
import { createPublisher } from '../plugins/core/publisher'
import { createHeartbeats } from '../plugins/core/heartbeats'
import { BackendUnavailableError } from '../plugins/core/errors'

type Json = Record<string, any>

const MINUTE = 60_000
const ping = async (app: FastifyInstance, path: string) => await app.inject({ method: 'POST', url: `/heartbeats/${path}` })
/** Every event the app publishes, to wait on: the check runs on its timer as well as when a test calls it. */
function published (app: FastifyInstance): Array<Record<string, unknown>> {
  const events: Array<Record<string, unknown>> = []
  app.publisher.onPublish((event) => events.push(event))
  return events
}
const raisedFor = (events: Array<Record<string, unknown>>, key: string) => () => events.some((e) => e.type === 'alert' && e.key === key)
const list = async (app: FastifyInstance): Promise<Json[]> => (await app.inject('/heartbeats')).json().heartbeats

/** Creates monitor `job` (every minute, no grace, plus `settings`), lets a minute pass and waits for its miss's alert. */
async function missedJob (app: FastifyInstance, clock: { advance: (ms: number) => void }, settings = ''): Promise<void> {
  const events = published(app)
  await ping(app, `job?every=1m&grace=0s${settings}`)
  clock.advance(MINUTE)
  await app.heartbeats.check()
  await waitFor(raisedFor(events, 'heartbeat:job'))
}

t.test('durations: whole numbers with a unit, and back', async (t) => {
  t.equal(parseDuration('30s'), 30_000)
  t.equal(parseDuration('10m'), 10 * MINUTE)
  t.equal(parseDuration('2h'), 2 * 60 * MINUTE)
  t.equal(parseDuration('1d'), 24 * 60 * MINUTE)
  t.equal(parseDuration('1w'), 7 * 24 * 60 * MINUTE)
  t.equal(parseDuration('250ms'), 250)
  for (const bad of ['', '5', '5 m', '1.5h', '-1s', 'm', '5M', '1y', '1234567890s']) t.equal(parseDuration(bad), undefined, bad)
  t.equal(formatDuration(0), '0s')
  t.equal(formatDuration(90_000), '90s')
  t.equal(formatDuration(24 * 60 * MINUTE), '1d')
  t.equal(formatDuration(1500), '1500ms')
  t.equal(formatDuration(14 * 24 * 60 * MINUTE), '2w')
})

t.test('the first ping creates a monitor with the defaults; later pings keep what they leave out', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, {}, { timers })
  const first = await ping(app, 'nightly-backup')
  t.equal(first.statusCode, 200)
  t.same(first.json(), {
    name: 'nightly-backup',
    every: '5m',
    grace: '1m',
    severity: 'critical',
    location: 'nightly-backup',
    lastPing: new Date(clock.now()).toISOString(),
    due: new Date(clock.now() + 6 * MINUTE).toISOString(),
    state: 'up'
  })
  const changed = (await ping(app, 'nightly-backup?every=1d&grace=30m&severity=warning&location=Backups')).json()
  t.match(changed, { every: '1d', grace: '30m', severity: 'warning', location: 'Backups' })
  clock.advance(MINUTE)
  const kept = (await ping(app, 'nightly-backup')).json()
  t.match(kept, { every: '1d', grace: '30m', severity: 'warning', location: 'Backups', lastPing: new Date(clock.now()).toISOString() })
  await ping(app, 'a.b_c-1?grace=0s')
  t.same((await list(app)).map((m) => [m.name, m.grace]), [['a.b_c-1', '0s'], ['nightly-backup', '30m']], 'listed by name')
  t.equal((await app.inject('/heartbeats')).json().count, 2)
})

t.test('a miss raises one alert, the next ping resolves it, and the monitor goes on', async (t) => {
  const { clock, timers } = mockTimers()
  // No WebSocket pings: they run on the same clock, and minutes moved at once would cut the client.
  const { fastify: app, wsUrl } = await listen(t, { HEARTBEAT_CHECK_MS: 1000, WS_HEARTBEAT_MS: 0 }, { timers })
  const client = await Client.open(`${wsUrl}/ws`, t)
  const started = clock.now()
  await ping(app, 'backup?every=5m&grace=1m')

  clock.advance(6 * MINUTE - 1)
  await app.heartbeats.check()
  t.equal((await list(app))[0]?.state, 'up', 'within every + grace')
  clock.advance(1)
  t.equal((await list(app))[0]?.state, 'missed', 'missed once every + grace has passed')
  // The timer's own check raises it: time moves by one check period.
  clock.advance(1000)
  const alert = await client.next<Json>()
  t.match(alert, {
    type: 'alert',
    source: 'heartbeat',
    key: 'heartbeat:backup',
    severity: 'critical',
    location: 'backup',
    state: 'open',
    message: `backup missed its heartbeat (expected every 5m, last seen ${new Date(started).toISOString()})`
  })
  // More checks, later: still one alert for this miss.
  for (let i = 0; i < 5; i++) {
    clock.advance(10 * MINUTE)
    await app.heartbeats.check()
  }
  await app.inject({ method: 'POST', url: '/message', payload: { sender: 'test', message: 'marker' } })
  t.match(await client.next<Json>(), { type: 'chat', message: 'marker' }, 'no second alert for one miss')

  const pinged = await ping(app, 'backup')
  t.equal(pinged.json().state, 'up')
  t.match(await client.next<Json>(), { type: 'alert_update', change: 'resolved', by: 'heartbeat', alert: { id: alert.id, state: 'resolved', resolvedBy: 'heartbeat' } })

  clock.advance(6 * MINUTE)
  await app.heartbeats.check()
  const again = await client.next<Json>()
  t.match(again, { type: 'alert', key: 'heartbeat:backup', count: 1 }, 'the next miss is a new alert')
  t.not(again.id, alert.id)
})

t.test('removing a monitor resolves its alert; an unknown one is 404', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, {}, { timers })
  await missedJob(app, clock, '&severity=info&location=Cron')
  const [open] = (await app.inject('/alerts?key=heartbeat:job')).json().alerts
  t.match(open, { state: 'open', severity: 'info', location: 'Cron' })
  const removed = await app.inject({ method: 'DELETE', url: '/heartbeats/job' })
  t.equal(removed.statusCode, 200)
  t.match(removed.json(), { name: 'job', state: 'missed' })
  t.match((await app.inject('/alerts?key=heartbeat:job')).json().alerts[0], { id: open.id, state: 'resolved', resolvedBy: 'heartbeat' })
  t.same(await list(app), [])
  const unknown = await app.inject({ method: 'DELETE', url: '/heartbeats/job' })
  t.same(unknown.json(), { statusCode: 404, code: 'HEARTBEAT_NOT_FOUND', error: 'Not Found', message: 'no heartbeat monitor named job' })
  // A monitor removed without a miss resolves nothing.
  await ping(app, 'quiet')
  t.equal((await app.inject({ method: 'DELETE', url: '/heartbeats/quiet' })).statusCode, 200)
})

t.test('a person who resolved the alert first: the ping finds nothing to resolve and is fine', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, {}, { timers })
  await missedJob(app, clock)
  t.equal((await app.inject({ method: 'POST', url: '/alerts/resolve', payload: { key: 'heartbeat:job', by: 'Ana' } })).statusCode, 200)
  t.equal((await ping(app, 'job')).statusCode, 200)
  t.match((await app.inject('/alerts?key=heartbeat:job')).json().alerts[0], { resolvedBy: 'Ana' })
})

t.test('bad names and settings: 400 naming the field, nothing created', async (t) => {
  const app = await build(t)
  const bad: Array<[string, RegExp]> = [
    ['has%20space', /params\/name/],
    ['slash%2Fname', /params\/name/],
    ['n'.repeat(101), /params\/name/],
    ['%C3%A9t%C3%A9', /params\/name/],
    ['ok?every=5', /querystring\/every/],
    ['ok?every=5%20m', /querystring\/every/],
    ['ok?every=-1s', /querystring\/every/],
    ['ok?every=500ms', /querystring\/every must be between 1s and 365d/],
    ['ok?every=0s', /querystring\/every/],
    ['ok?every=400d', /querystring\/every must be between 1s and 365d; got 400d/],
    ['ok?grace=53w', /querystring\/grace/],
    ['ok?grace=1.5h', /querystring\/grace/],
    ['ok?severity=urgent', /querystring\/severity/],
    ['ok?location=', /querystring\/location/],
    ['ok?location=%20%20', /querystring\/location/],
    ['ok?location=%E2%80%8B', /querystring\/location must not be blank/],
    ['ok?location=%00%01', /querystring\/location must not be blank/],
    [`ok?location=${'l'.repeat(201)}`, /querystring\/location/],
    ['ok?every=5m&every=10m', /^querystring\/every is given 2 times; give it once$/],
    ['ok?severity=info&severity=critical', /^querystring\/severity is given 2 times; give it once$/],
    ['ok?location=a&location=b&location=c', /^querystring\/location is given 3 times; give it once$/]
  ]
  for (const [path, field] of bad) {
    const res = await ping(app, path)
    t.equal(res.statusCode, 400, path)
    t.match(res.json(), { statusCode: 400, message: field }, path)
  }
  t.same(await list(app), [], 'nothing created')
  t.equal((await app.inject({ method: 'DELETE', url: '/heartbeats/bad%20name' })).statusCode, 400)
  const withBody = await app.inject({ method: 'POST', url: '/heartbeats/ok', payload: { every: '1s', anything: [1, 2] } })
  t.match(withBody.json(), { every: '5m' }, 'a body is ignored: settings come from the query string')
  // Whatever its type: a cron line's `curl -d ''` sends a form, a careless one broken JSON.
  for (const [type, body] of [['application/x-www-form-urlencoded', ''], ['application/x-www-form-urlencoded', 'a=b'], ['application/json', '{broken'], ['text/plain', 'hello'], ['application/json; charset=utf-16', 'x']]) {
    const res = await app.inject({ method: 'POST', url: '/heartbeats/any-body?every=2m', headers: { 'content-type': type as string }, body })
    t.equal(res.statusCode, 200, `${type as string}: ${body as string}`)
    t.match(res.json(), { name: 'any-body', every: '2m' })
  }
  t.equal((await app.inject({ method: 'DELETE', url: '/heartbeats/any-body', headers: { 'content-type': 'text/plain' }, body: 'x' })).statusCode, 200, 'a removal ignores its body too')
  t.equal((await app.inject({ method: 'POST', url: '/heartbeats/big', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(2_000_000) })).statusCode, 413, 'within the body limit')
  t.equal((await ping(app, 'x'.repeat(100))).statusCode, 200, '100 characters is fine')
})

t.test('behind API_TOKEN', async (t) => {
  const app = await build(t, { API_TOKEN: 'secret' })
  t.equal((await ping(app, 'a')).statusCode, 401)
  t.equal((await app.inject('/heartbeats')).statusCode, 401)
  t.equal((await app.inject({ method: 'DELETE', url: '/heartbeats/a' })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/heartbeats/a', headers: { authorization: 'Bearer secret' } })).statusCode, 200)
})

t.test('core: a ping or removal between a claimed miss and its alert still ends with the alert resolved', async (t) => {
  const { clock, timers } = mockTimers()
  const backend = createMemoryBackend({ historySize: 100 })
  const publisher = createPublisher(backend.store)
  const monitors = createHeartbeats({ store: backend.heartbeats, publisher, log: pino({ level: 'silent' }), periodMs: 1000, timers })
  for (const between of ['ping', 'remove'] as const) {
    const name = `race-${between}`
    await monitors.ping(name, { everyMs: MINUTE, graceMs: 0 })
    clock.advance(MINUTE)
    // The ping lands right after this instance claimed the miss, before it raised the alert.
    const claim = backend.heartbeats.claimMiss.bind(backend.heartbeats)
    backend.heartbeats.claimMiss = async (n, last) => {
      const won = await claim(n, last)
      if (between === 'ping') await monitors.ping(n, {})
      else await monitors.remove(n)
      return won
    }
    await monitors.check()
    backend.heartbeats.claimMiss = claim
    const stored = await backend.store.alerts()
    t.match(stored.find((s) => s.alert.key === `heartbeat:${name}`)?.alert, { state: 'resolved', resolvedBy: 'heartbeat' }, between)
  }
  t.equal(await backend.heartbeats.claimMiss('nobody', 0), false, 'no monitor, no miss')
})

t.test('core: a miss claimed while the backend fails is raised by a later check, unless a ping or a removal came first', async (t) => {
  const { clock, timers } = mockTimers()
  const backend = createMemoryBackend({ historySize: 100 })
  const real = createPublisher(backend.store)
  let down = true
  const publish: typeof real.publish = async (draft) => {
    if (down) throw new BackendUnavailableError('down')
    return await real.publish(draft)
  }
  const publisher = { ...real, publish }
  const monitors = createHeartbeats({ store: backend.heartbeats, publisher, log: pino({ level: 'silent' }), periodMs: 1000, timers })
  const alertOf = async (name: string) => (await backend.store.alerts()).find((s) => s.alert.key === `heartbeat:${name}`)?.alert
  for (const name of ['raised', 'pinged', 'removed']) await monitors.ping(name, { everyMs: MINUTE, graceMs: 0 })
  clock.advance(MINUTE)
  await t.rejects(monitors.check(), BackendUnavailableError, 'the claims are won, the raises fail')
  for (const name of ['raised', 'pinged', 'removed']) {
    const monitor = await backend.heartbeats.get(name)
    t.equal(monitor?.missed, monitor?.lastPing, `${name}: one failure does not stop the others; claimed, so no other instance raises it`)
  }
  await t.rejects(monitors.check(), BackendUnavailableError, 'still down: the owed raises fail again')
  down = false
  await monitors.ping('pinged', {})
  await monitors.remove('removed')
  await monitors.check()
  t.match(await alertOf('raised'), { state: 'open', source: 'heartbeat', count: 1 }, 'raised once the backend is back')
  t.equal(await alertOf('pinged'), undefined, 'pinged before the retry: nothing raised')
  t.equal(await alertOf('removed'), undefined, 'removed before the retry: nothing raised')
  await monitors.check()
  t.equal((await alertOf('raised'))?.count, 1, 'owed once: a later check does not repeat it')
})

t.test('the check keeps going after a failure, and stops with the server', async (t) => {
  const { clock, timers } = mockTimers()
  const backend = createMemoryBackend({ historySize: 100 })
  const warnings: unknown[] = []
  let warned: () => void = () => {}
  const firstWarning = new Promise<void>((resolve) => { warned = resolve })
  const log = { ...pino({ level: 'silent' }), warn: (obj: unknown) => { warnings.push(obj); warned() } }
  let fail = true
  const store = { ...backend.heartbeats, due: async () => { if (fail) throw new Error('down'); return [] } }
  const monitors = createHeartbeats({ store, publisher: createPublisher(backend.store), log: log as never, periodMs: 1000, timers })
  monitors.start()
  monitors.start()
  clock.advance(1000)
  await firstWarning
  fail = false
  monitors.stop()
  t.equal(warnings.length, 1)
})

t.test('core: a backend failure while resolving a miss fails the ping (the client retries)', async (t) => {
  const backend = createMemoryBackend({ historySize: 10 })
  const publisher = { publish: createPublisher(backend.store).publish, act: async () => { throw new BackendUnavailableError('down') } }
  const monitors = createHeartbeats({ store: backend.heartbeats, publisher, log: pino({ level: 'silent' }), periodMs: 1000 })
  await monitors.ping('a', {})
  t.ok(await backend.heartbeats.claimMiss('a', (await backend.heartbeats.get('a'))?.lastPing ?? 0))
  await t.rejects(monitors.ping('a', {}), BackendUnavailableError)
})

t.test('/metrics: the gauges count alerts by severity and state and monitors by state, and keep their values while the backend cannot be read', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, {}, { timers })
  const raised = (await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l', severity: 'info' } })).json()
  await app.inject({ method: 'POST', url: `/alerts/${raised.id as string}/ack` })
  await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l' } })
  await ping(app, 'a?every=1m&grace=0s')
  await ping(app, 'b')
  clock.advance(MINUTE)
  const metrics = async (): Promise<string> => (await app.inject('/metrics')).body
  const before = await metrics()
  t.match(before, /alert_server_open_alerts\{severity="info",state="acknowledged"\} 1/)
  t.match(before, /alert_server_open_alerts\{severity="warning",state="open"\} 1/)
  t.match(before, /alert_server_open_alerts\{severity="info",state="open"\} 0/)
  t.match(before, /alert_server_heartbeat_monitors\{state="missed"\} 1/)
  t.match(before, /alert_server_heartbeat_monitors\{state="up"\} 1/)
  const { store, heartbeats } = app.backend
  const fail = async (): Promise<never> => { throw new Error('backend down') }
  Object.assign(store, { alerts: fail })
  Object.assign(heartbeats, { list: fail, count: fail })
  const res = await app.inject('/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.body, /alert_server_open_alerts\{severity="warning",state="open"\} 1/, 'the last values stay')
  t.match(res.body, /alert_server_heartbeat_monitors\{state="missed"\} 1/)
})

t.test('the OpenAPI document lists only answers a ping can give: no 415 (its body is ignored), no 422 (no Idempotency-Key)', async (t) => {
  const app = await build(t)
  const responses = Object.keys((await app.inject('/docs/json')).json().paths['/heartbeats/{name}'].post.responses)
  t.notOk(responses.includes('415'), '415')
  t.notOk(responses.includes('422'), '422')
  t.ok(responses.includes('413'), 'a body past the limit is still 413')
})

t.test('GET /heartbeats pages with limit and cursor, by name; without them it answers every monitor, as before', async (t) => {
  const app = await build(t, { HEARTBEATS_MAX: 5000 })
  const names = Array.from({ length: 5000 }, (_, i) => `job-${String(i).padStart(5, '0')}`)
  // Added out of order: the pages are by name whatever the order of creation.
  for (const name of [...names].reverse()) await app.heartbeats.ping(name, {})

  const whole = await app.inject('/heartbeats')
  t.equal(whole.json().count, 5000, 'no paging parameter: every monitor')
  t.notOk('next' in whole.json())

  const seen: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const res = await app.inject(`/heartbeats?limit=1000${cursor === undefined ? '' : `&cursor=${cursor}`}`)
    t.equal(res.statusCode, 200)
    const body = res.json() as { heartbeats: Array<{ name: string }>, count: number, next?: string }
    t.equal(body.count, body.heartbeats.length)
    t.ok(body.count <= 1000 && res.body.length < whole.body.length / 4, `page ${pages}: ${res.body.length} bytes, a fifth of the whole`)
    seen.push(...body.heartbeats.map((m) => m.name))
    cursor = body.next
    pages++
  } while (cursor !== undefined && pages < 10)
  t.equal(pages, 5)
  t.same(seen, names, 'every monitor once, by name')

  const first = (await app.inject('/heartbeats?limit=2')).json()
  t.same(first.heartbeats.map((m: { name: string }) => m.name), names.slice(0, 2))
  const byCursor = (await app.inject(`/heartbeats?cursor=${first.next as string}`)).json()
  t.equal(byCursor.count, 100, 'a cursor alone: a page of 100')
  t.equal(byCursor.heartbeats[0].name, names[2])
  // A monitor removed between pages does not shift the next one.
  await app.heartbeats.remove(names[1] as string)
  t.equal((await app.inject(`/heartbeats?limit=1&cursor=${first.next as string}`)).json().heartbeats[0].name, names[2])

  for (const [query, message] of <Array<[string, string]>>[
    ['cursor=nope', 'querystring/cursor is not a cursor this server gave out'],
    ['limit=0', 'querystring/limit must be at least 1'],
    ['limit=1001', 'querystring/limit must be at most 1000'],
    ['limit=1&limit=2', 'querystring/limit is given 2 times; give it once']
  ]) {
    const res = await app.inject(`/heartbeats?${query}`)
    t.same([res.statusCode, res.json().message], [400, message], query)
  }
})
