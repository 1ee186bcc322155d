import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { postAlert } from './helpers/http'

type Json = Record<string, any>

const raise = async (app: FastifyInstance, body: Json): Promise<Json> => {
  const res = await postAlert(app, { message: 'm', location: 'l', ...body })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json()
}
const act = async (app: FastifyInstance, url: string, payload?: Json) =>
  await app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }) })

t.test('a new alert: defaults, and the optional fields when given', async (t) => {
  const app = await build(t)
  const plain = await raise(app, {})
  t.match(plain, { severity: 'warning', state: 'open', count: 1, source: 'api' })
  for (const field of ['key', 'link', 'tags', 'acknowledgedBy', 'resolvedBy', 'escalations']) t.notOk(field in plain, `no ${field} until set`)
  const full = await raise(app, { severity: 'critical', key: 'disk:db1', link: 'https://runbooks.example.com/disk', tags: ['db', 'disk'] })
  t.match(full, { severity: 'critical', key: 'disk:db1', link: 'https://runbooks.example.com/disk', tags: ['db', 'disk'] })
})

t.test('new fields are checked: wrong values are 400 naming the field, nothing stored', async (t) => {
  const app = await build(t)
  const bad: Array<[Json, RegExp]> = [
    [{ severity: 'urgent' }, /severity/],
    [{ severity: 3 }, /severity/],
    [{ key: '' }, /key/],
    [{ key: 'k'.repeat(201) }, /key/],
    [{ key: '   ' }, /key/],
    [{ link: 'javascript:alert(1)' }, /link/],
    [{ link: 'ftp://example.com' }, /link/],
    [{ link: 'https://' + 'x'.repeat(2000) }, /link/],
    [{ link: 'https://exa mple.com' }, /link/],
    [{ tags: 'db' }, /tags/],
    [{ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, /tags/],
    [{ tags: ['x'.repeat(51)] }, /tags/],
    [{ tags: [''] }, /tags/],
    [{ tags: [1] }, /tags/],
    // A lone surrogate: Redis would store U+FFFD, so "\ud800" and "\udc00" would be one key there.
    [{ key: 'disk\ud800' }, /body\/key must be well-formed Unicode/],
    [{ tags: ['ok', '\udc00'] }, /body\/tags\/1 must be well-formed Unicode/]
  ]
  for (const [body, field] of bad) {
    const res = await postAlert(app, { message: 'm', location: 'l', ...body })
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json().message, field)
  }
  t.same((await app.inject('/alerts')).json(), { alerts: [], count: 0 })
})

t.test('dedupe by key: the open alert is updated, the response and a frame say so; a resolved key starts anew', async (t) => {
  const { fastify: app, wsUrl } = await listen(t)
  const client = await Client.open(`${wsUrl}/ws`, t)
  const first = await raise(app, { key: 'k', message: 'disk 90%', tags: ['db'], link: 'https://a.example' })
  t.same(await client.next(), first)
  const second = await raise(app, { key: 'k', message: 'disk 95%', severity: 'critical' })
  t.match(second, { id: first.id, count: 2, message: 'disk 95%', severity: 'critical', state: 'open', timestamp: first.timestamp })
  t.notOk('tags' in second, 'the latest values: no tags this time')
  t.notOk('link' in second)
  const frame = await client.next()
  t.match(frame, { type: 'alert_update', change: 'repeated', alert: second })
  t.not(frame.id, first.id, 'the update has an event id of its own')

  t.equal((await act(app, `/alerts/${first.id as string}/resolve`)).statusCode, 200)
  await client.next()
  const third = await raise(app, { key: 'k' })
  t.not(third.id, first.id, 'a resolved key starts a new alert')
  t.equal(third.count, 1)
  t.same((await app.inject('/alerts?key=k')).json().alerts.map((a: Json) => [a.id, a.state]), [[third.id, 'open'], [first.id, 'resolved']])
})

t.test('concurrent raises with one key make one alert with the exact count', async (t) => {
  const app = await build(t, { HISTORY_SIZE: 500, REPLAY_WINDOW: 500 })
  const results = await Promise.all(Array.from({ length: 60 }, async (_, i) => await raise(app, { key: 'same', message: `m${i}` })))
  const ids = new Set(results.map((r) => r.id))
  t.equal(ids.size, 1, 'one alert')
  t.same(results.map((r) => r.count).sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i + 1), 'every raise counted once')
  const board = (await app.inject('/alerts')).json()
  t.equal(board.count, 1)
  t.equal(board.alerts[0].count, 60)
})

t.test('acknowledge and resolve: transitions, repeats, conflicts, unknown ids and keys', async (t) => {
  const { fastify: app, wsUrl } = await listen(t)
  const client = await Client.open(`${wsUrl}/ws`, t)
  const alert = await raise(app, { key: 'door' })
  await client.next()

  const ack = await act(app, `/alerts/${alert.id as string}/ack`, { by: 'Ana', note: 'on my way' })
  t.equal(ack.statusCode, 200)
  t.match(ack.json(), { id: alert.id, state: 'acknowledged', acknowledgedBy: 'Ana' })
  t.ok(Date.parse(ack.json().acknowledgedAt) >= Date.parse(alert.timestamp))
  t.match(await client.next(), { type: 'alert_update', change: 'acknowledged', by: 'Ana', note: 'on my way', alert: ack.json() })

  const again = await act(app, `/alerts/${alert.id as string}/ack`, { by: 'Bo' })
  t.equal(again.statusCode, 200)
  t.same(again.json(), ack.json(), 'repeating is a no-op: the alert unchanged')

  const resolved = await act(app, `/alerts/${alert.id as string}/resolve`)
  t.equal(resolved.statusCode, 200, 'no body at all is fine')
  t.match(resolved.json(), { state: 'resolved', resolvedBy: 'anonymous', acknowledgedBy: 'Ana' })
  t.match(await client.next(), { type: 'alert_update', change: 'resolved', alert: resolved.json() })
  t.same((await act(app, `/alerts/${alert.id as string}/resolve`, { by: 'x' })).json(), resolved.json(), 'resolving again: unchanged')

  const late = await act(app, `/alerts/${alert.id as string}/ack`, { by: 'Cy' })
  t.equal(late.statusCode, 409)
  t.match(late.json().message, /resolved/)

  const unknown = '00000000-0000-4000-8000-000000000000'
  t.equal((await act(app, `/alerts/${unknown}/ack`)).statusCode, 404)
  t.equal((await act(app, `/alerts/${unknown}/resolve`)).statusCode, 404)
  t.equal((await act(app, '/alerts/not-a-uuid/ack')).statusCode, 400)
  t.equal((await act(app, `/alerts/${alert.id as string}/ack`, { by: 5 })).statusCode, 400)
  t.equal((await act(app, `/alerts/${alert.id as string}/ack`, { note: 'n'.repeat(1001) })).statusCode, 400)
  t.match((await act(app, `/alerts/${alert.id as string}/ack`, { by: 'Ana\ud800' })).json().message, /body\/by must be well-formed Unicode/)
  t.match((await act(app, `/alerts/${alert.id as string}/ack`, { note: '\udfff' })).json().message, /body\/note must be well-formed Unicode/)
  t.match((await act(app, '/alerts/resolve', { key: 'door', by: 'x', note: 'x\ud800' })).json().message, /body\/note must be well-formed Unicode/)
  t.same((await act(app, '/alerts/resolve', { key: 'door' })).json(), resolved.json(), 'by key too, resolving again: 200, unchanged')
  const never = await act(app, '/alerts/resolve', { key: 'window' })
  t.equal(never.statusCode, 404, 'a key never seen')
  t.equal(never.json().message, 'no alert with key "window"')
  t.equal((await act(app, '/alerts/resolve', {})).statusCode, 400)
  await t.resolves(async () => undefined)
  t.equal(client.pending, 0, 'no frame for no-ops and refusals')
})

t.test('an alert or event id in upper case is the same id (UUIDs are case-insensitive)', async (t) => {
  const app = await build(t)
  const alert = await raise(app, {})
  const upper = (alert.id as string).toUpperCase()
  const ack = await act(app, `/alerts/${upper}/ack`, { by: 'Ana' })
  t.equal(ack.statusCode, 200)
  t.match(ack.json(), { id: alert.id, state: 'acknowledged' })
  const replay = await app.inject({ url: `/events?poll=1&format=ndjson&since=${upper}` })
  t.same(replay.body.split('\n').filter(Boolean).map((line) => JSON.parse(line).type), ['alert_update'], 'replayed from that event: no gap, only what came after')
})

t.test('open -> resolved directly, and resolve by key', async (t) => {
  const app = await build(t)
  const alert = await raise(app, { key: 'backup' })
  const res = await act(app, '/alerts/resolve', { key: 'backup', by: 'cron', note: 'backup finished' })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { id: alert.id, state: 'resolved', resolvedBy: 'cron' })
  t.notOk('acknowledgedBy' in res.json())
})

t.test('resolve by key, again and again (a job that resolves on every healthy run): 200 with the newest alert of that key', async (t) => {
  const app = await build(t, { HISTORY_SIZE: 1000 })
  const first = await raise(app, { key: 'backup' })
  t.equal((await act(app, '/alerts/resolve', { key: 'backup', by: 'cron' })).statusCode, 200)
  const second = await raise(app, { key: 'backup', message: 'Backup failed again' })
  t.not(second.id, first.id, 'raised again after its resolve: a new alert')
  // Many alerts raised since, so that the newest with the key is pages back.
  for (let i = 0; i < 250; i++) await raise(app, { key: `other-${i}` })
  const resolved = await act(app, '/alerts/resolve', { key: 'backup', by: 'cron' })
  t.match(resolved.json(), { id: second.id, state: 'resolved', resolvedBy: 'cron' })
  for (let run = 0; run < 3; run++) {
    const again = await act(app, '/alerts/resolve', { key: 'backup', by: 'cron' })
    t.equal(again.statusCode, 200, `healthy run ${run + 1}`)
    t.same(again.json(), resolved.json(), 'the newest alert of the key, unchanged (not the older one)')
  }
})

t.test('GET /alerts?state=open,acknowledged (the dashboard\'s board) and the export of it, among many resolved alerts: every unresolved one, page by page, on each store', async (t) => {
  for (const store of ['memory', 'sqlite'] as const) {
    const app = await build(t, { STORE: store, DATA_DIR: `${t.testdir()}/${store}`, REPLAY_WINDOW: 1000 })
    // The scope each read asks the store for: the unresolved alerts alone when the filter keeps no other.
    const newest = app.backend.store.newest
    const scopes = new Set<boolean | undefined>()
    app.backend.store.newest = async (count, before, scope) => { scopes.add(scope?.unresolved); return await newest(count, before, scope) }
    const unresolved: string[] = []
    for (let i = 0; i < 300; i++) {
      const alert = await raise(app, { message: `a${i}` })
      if (i % 50 === 7) unresolved.unshift(alert.id as string)
      else if (i % 50 === 8) {
        await act(app, `/alerts/${alert.id as string}/ack`)
        unresolved.unshift(alert.id as string)
      } else await act(app, `/alerts/${alert.id as string}/resolve`)
    }
    const got: string[] = []
    let cursor = ''
    for (let pages = 0; pages < 10; pages++) {
      const page = (await app.inject(`/alerts?state=open,acknowledged&limit=5${cursor}`)).json()
      got.push(...page.alerts.map((x: Json) => x.id))
      if (page.next === undefined) break
      cursor = `&cursor=${page.next as string}`
    }
    t.same(got, unresolved, `${store}: all 12, newest first, in pages of 5`)
    const exported = (await app.inject('/alerts/export?state=acknowledged,open')).body.trim().split('\n').map((line) => JSON.parse(line).id)
    t.same(exported, unresolved, `${store}: the export too`)
    t.same([...scopes], [true], `${store}: both asked the store for unresolved alerts only`)
    t.equal((await app.inject('/alerts?state=resolved&limit=1000')).json().count, 288, `${store}: and the resolved ones, asked for`)
  }
})

t.test('GET /alerts: filters (comma lists OR, parameters AND), newest first, limit and cursor', async (t) => {
  const app = await build(t, { HISTORY_SIZE: 100, REPLAY_WINDOW: 100 })
  const a = await raise(app, { severity: 'critical', location: 'North', tags: ['db'] })
  const b = await raise(app, { severity: 'warning', location: 'South', tags: ['web', 'db'], key: 'kb' })
  const c = await raise(app, { severity: 'info', location: 'North' })
  await act(app, `/alerts/${b.id as string}/ack`)
  const ids = async (query: string): Promise<string[]> => {
    const res = await app.inject(`/alerts${query}`)
    t.equal(res.statusCode, 200, query)
    return res.json().alerts.map((x: Json) => x.id)
  }
  t.same(await ids(''), [c.id, b.id, a.id])
  t.same(await ids('?severity=critical,info'), [c.id, a.id])
  t.same(await ids('?location=North&severity=info'), [c.id])
  t.same(await ids('?state=acknowledged'), [b.id])
  t.same(await ids('?state=open,resolved'), [c.id, a.id])
  t.same(await ids('?tag=db'), [b.id, a.id])
  t.same(await ids('?key=kb,zz'), [b.id])

  const first = (await app.inject('/alerts?limit=2')).json()
  t.same(first.alerts.map((x: Json) => x.id), [c.id, b.id])
  t.type(first.next, 'string')
  const second = (await app.inject(`/alerts?limit=2&cursor=${first.next as string}`)).json()
  t.same(second.alerts.map((x: Json) => x.id), [a.id])
  t.notOk('next' in second, 'the last page has no cursor')

  for (const query of ['?state=closed', '?severity=urgent', '?limit=0', '?limit=1001', '?limit=x', '?cursor=nope', '?state=', '?other=1']) {
    const res = await app.inject(`/alerts${query}`)
    if (query === '?other=1') {
      t.equal(res.statusCode, 200, 'unknown parameters are ignored, like unknown body fields')
      continue
    }
    t.equal(res.statusCode, 400, query)
    t.match(res.json().message, /querystring/)
  }
})

t.test('history keeps the original contract; resolved alerts are capped, open ones kept until OPEN_ALERTS_MAX', async (t) => {
  const app = await build(t, { HISTORY_SIZE: 2, REPLAY_WINDOW: 2, OPEN_ALERTS_MAX: 3 })
  const raised = []
  for (let i = 0; i < 3; i++) raised.push(await raise(app, { message: `r${i}`, severity: 'critical' }))
  for (const r of raised) await act(app, `/alerts/${r.id as string}/resolve`)
  const open = [await raise(app, { message: 'o-info', severity: 'info' }), await raise(app, { message: 'o-crit', severity: 'critical' }), await raise(app, { message: 'o-warn' })]
  const history = (await app.inject('/alerts/history')).json()
  t.same(history.alerts.map((a: Json) => a.message), ['o-crit', 'o-warn'], 'the newest HISTORY_SIZE, oldest first')
  t.equal(history.count, 2)
  const board = (await app.inject('/alerts')).json()
  t.same(board.alerts.map((a: Json) => a.message), ['o-warn', 'o-crit', 'o-info', 'r2', 'r1'], 'the oldest resolved went; every open one stayed')

  await raise(app, { message: 'o-new', severity: 'critical' })
  const after = (await app.inject('/alerts?state=open')).json().alerts.map((a: Json) => a.message)
  t.same(after, ['o-new', 'o-warn', 'o-crit'], 'past OPEN_ALERTS_MAX the oldest info alert went first')
  t.equal(app.evictedAlerts.count, 1)
  t.match((await app.inject('/metrics')).body, /alert_server_alerts_evicted_total 1/)
  t.ok(open.length === 3)
})

t.test('the automatic alert: source ticker, ALERT_SEVERITY, and ALERT_KEY repeats one alert', async (t) => {
  const { fastify: app, wsUrl } = await listen(t, { ALERT_INTERVAL_MS: 20, ALERT_KEY: 'heartbeat-demo', ALERT_SEVERITY: 'warning', HISTORY_SIZE: 1000, REPLAY_WINDOW: 1000 })
  // From the start of the history: the first tick may come before the socket opens.
  const client = await Client.open(`${wsUrl}/ws?since=all`, t)
  const first = await client.next()
  t.match(first, { type: 'alert', source: 'ticker', severity: 'warning', key: 'heartbeat-demo', count: 1 })
  t.match(await client.next(), { type: 'alert_update', change: 'repeated', alert: { id: first.id, count: 2 } })
  t.equal((await app.inject('/alerts')).json().count, 1, 'one alert however many ticks')
  const plain = await build(t, { ALERT_INTERVAL_MS: undefined })
  t.equal(plain.config.ALERT_SEVERITY, 'info')
  t.equal(plain.config.ALERT_KEY, '')
})

t.test('a board full of critical and acknowledged alerts refuses a new one with 503 BOARD_FULL, and /ready and the metrics say so', async (t) => {
  const app = await build(t, { OPEN_ALERTS_MAX: 2 })
  const raise = async (message: string, severity = 'critical'): Promise<Json> =>
    (await app.inject({ method: 'POST', url: '/alerts', payload: { message, location: 'x', severity } }))
  const first = (await raise('one')).json()
  await raise('two', 'warning').then((r) => r.json()).then(async (two: Json) => await app.inject({ method: 'POST', url: `/alerts/${two.id as string}/ack`, payload: {} }))
  t.same((await app.inject('/ready')).json(), { status: 'ready' }, 'no warning while there is room')
  const refused = await raise('three')
  t.equal(refused.statusCode, 503)
  t.equal(refused.headers['retry-after'], '60')
  t.match(refused.json(), { code: 'BOARD_FULL', message: /^the board is full/ })
  t.same((await app.inject('/alerts?limit=10')).json().alerts.map((a: Json) => a.message), ['two', 'one'], 'nothing dropped, nothing added')
  const ready = await app.inject('/ready')
  t.equal(ready.statusCode, 200, 'still ready: reads, acknowledgements and resolves go on')
  t.match(ready.json(), { status: 'ready', warnings: [/^board full: new alerts are refused/] })
  t.match((await app.inject('/metrics')).body, /alert_server_open_alerts_limit 2/)
  await app.inject({ method: 'POST', url: `/alerts/${first.id as string}/resolve`, payload: {} })
  t.equal((await raise('three')).statusCode, 200, 'room once one is resolved')
  t.same((await app.inject('/ready')).json(), { status: 'ready' }, 'and the warning is gone')
})
