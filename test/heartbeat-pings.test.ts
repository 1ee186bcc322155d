/**
 * Heartbeat pings as healthchecks.io has them: /ping, /start, /fail and an
 * exit status, by GET or POST; cron schedules in a time zone; each monitor's
 * last pings; the cap on monitors; the check reading only the due monitors.
 */
import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { build, buildLogged, listen } from './helpers/app'
import { exchange } from './helpers/raw'
import { mockTimers } from './helpers/clock'
import { waitFor } from './helpers/wait'
import type { HeartbeatStore } from '../plugins/core/backend'
import { createMemoryBackend } from '../plugins/core/memory-backend'
import { createPublisher } from '../plugins/core/publisher'
import { createHeartbeats, mergeSettings, missMessage, nextDeadline } from '../plugins/core/heartbeats'
import { createDeadlineHeap } from '../plugins/core/deadline-heap'
import { cleanText, USER_AGENT_MAX } from '../plugins/core/heartbeat-pings'
import { LATEST, nextOccurrence, scheduleProblem } from '../plugins/core/schedule'
import { InvalidScheduleError } from '../plugins/core/errors'

type Json = Record<string, any>

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const iso = (ms: number): string => new Date(ms).toISOString()
const alertsOf = async (app: FastifyInstance, name: string): Promise<Json[]> => (await app.inject(`/alerts?key=heartbeat:${name}&state=open,acknowledged,resolved`)).json().alerts

t.test('ping URLs: /ping, /start, /fail and an exit status, by GET or POST; HEAD pings nothing', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, {}, { timers })
  const start = clock.now()
  for (const method of ['GET', 'POST'] as const) {
    const res = await app.inject({ method, url: `/heartbeats/by-${method}/ping?every=1h` })
    t.equal(res.statusCode, 200, method)
    t.match(res.json(), { name: `by-${method}`, every: '1h', grace: '1m', state: 'up', lastPing: iso(start), due: iso(start + HOUR + MINUTE) })
  }
  t.equal((await app.inject({ method: 'HEAD', url: '/heartbeats/by-head/ping' })).statusCode, 404, 'a link checker\'s HEAD is no ping')
  t.equal((await app.inject('/heartbeats/by-head')).statusCode, 404, 'nothing created')

  clock.advance(1000)
  const started = (await app.inject('/heartbeats/job/start?grace=10m')).json()
  t.match(started, { state: 'up', startedAt: iso(clock.now()), due: iso(clock.now() + 10 * MINUTE) }, 'a started run must end within the grace')
  clock.advance(90_000)
  const ended = (await app.inject({ method: 'POST', url: '/heartbeats/job/0', headers: { 'user-agent': 'cron\u0000 job\nv1' } })).json()
  t.notOk('startedAt' in ended, 'the run is over')
  t.equal(ended.due, iso(clock.now() + 5 * MINUTE + 10 * MINUTE), 'exit status 0 is a success: next one every + grace later')

  const shown = await app.inject('/heartbeats/job')
  t.equal(shown.statusCode, 200)
  t.match(shown.json(), { name: 'job', state: 'up' })
  t.match(shown.json().pings, [
    { at: iso(clock.now()), kind: 'success', exitStatus: 0, durationMs: 90_000, source: '127.0.0.1', userAgent: 'cron  job v1' },
    { at: iso(clock.now() - 90_000), kind: 'start', source: '127.0.0.1', userAgent: 'lightMyRequest' }
  ], 'newest first, with the run\'s duration, its address and a cleaned user agent')
  t.equal((await app.inject('/heartbeats/nobody')).statusCode, 404)
  t.same((await app.inject('/heartbeats/nobody')).json().code, 'HEARTBEAT_NOT_FOUND')

  for (const bad of ['256', '-1', '01', '1.5', 'stop', 'PING', '1e2']) {
    const res = await app.inject(`/heartbeats/job/${bad}`)
    t.equal(res.statusCode, 400, bad)
    t.match(res.json(), { code: 'VALIDATION_FAILED', message: 'params/signal must be ping, start, fail, or an exit status from 0 to 255' }, bad)
  }
  t.equal((await app.inject('/heartbeats/job/255')).statusCode, 200, '255 is the highest exit status')
})

t.test('a failure raises at once (repeated by the next), a success resolves it; a run that does not end within the grace is a miss', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, {}, { timers })
  await app.inject('/heartbeats/backup/start?every=1d&grace=30m')
  clock.advance(5 * MINUTE)
  const failed = await app.inject({ method: 'POST', url: '/heartbeats/backup/3' })
  t.match(failed.json(), { state: 'missed' })
  const [alert] = await alertsOf(app, 'backup')
  t.match(alert, { state: 'open', source: 'heartbeat', severity: 'critical', message: 'backup reported a failure (exit status 3) after 5m', count: 1 })
  await app.inject('/heartbeats/backup/fail')
  t.match(await alertsOf(app, 'backup'), [{ id: alert?.id, state: 'open', count: 2 }], 'a second failure repeats the open alert')
  await app.heartbeats.check()
  clock.advance(2 * 86_400_000)
  await app.heartbeats.check()
  t.equal((await alertsOf(app, 'backup'))[0]?.count, 2, 'a failed monitor is not missed again on top')
  await app.inject('/heartbeats/backup/start')
  t.equal((await alertsOf(app, 'backup'))[0]?.state, 'open', 'a start does not end a failure')
  await app.inject('/heartbeats/backup/ping')
  t.match(await alertsOf(app, 'backup'), [{ id: alert?.id, state: 'resolved', resolvedBy: 'heartbeat' }])

  // A run that hangs.
  const startedAt = clock.now()
  await app.inject('/heartbeats/backup/start')
  clock.advance(30 * MINUTE - 1)
  await app.heartbeats.check()
  t.equal((await alertsOf(app, 'backup')).filter((a) => a.state === 'open').length, 0, 'within the grace')
  clock.advance(1)
  await app.heartbeats.check()
  const hung = (await alertsOf(app, 'backup')).find((a) => a.state === 'open')
  t.equal(hung?.message, `backup started a run at ${iso(startedAt)} and did not finish it within 30m`)
  const finished = (await app.inject('/heartbeats/backup/0')).json()
  t.match(finished, { state: 'up' })
  t.equal((await alertsOf(app, 'backup')).find((a) => a.id === hung?.id)?.state, 'resolved', 'the late end resolves it')
  t.equal((await app.inject('/heartbeats/backup')).json().pings[0].durationMs, 30 * MINUTE)
})

t.test('cron schedules in a time zone: the next occurrence after the last ping, plus the grace, across daylight-saving changes', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, {}, { timers })
  // Europe/Berlin springs forward on 2026-03-29 (02:00 CET → 03:00 CEST): 02:30 does not exist that day.
  clock.travel(Date.parse('2026-03-28T01:31:00Z')) // 02:31 CET, Saturday
  const spring = (await app.inject('/heartbeats/nightly/ping?schedule=30%202%20*%20*%20*&tz=Europe/Berlin&grace=10m')).json()
  t.match(spring, { schedule: '30 2 * * *', tz: 'Europe/Berlin', every: '23h', grace: '10m' }, 'every: the gap to the next occurrence but one, a short day here')
  t.equal(spring.due, '2026-03-29T01:40:00.000Z', 'the skipped 02:30 is expected at 03:30 CEST (01:30 UTC), 23 hours later, plus the grace')
  clock.travel(Date.parse('2026-03-29T01:39:59Z'))
  await app.heartbeats.check()
  t.equal((await app.inject('/heartbeats/nightly')).json().state, 'up')
  clock.travel(Date.parse('2026-03-29T01:40:00Z'))
  await app.heartbeats.check()
  t.match(await alertsOf(app, 'nightly'), [{ state: 'open', message: 'nightly missed its heartbeat (expected on schedule 30 2 * * * (Europe/Berlin), last seen 2026-03-28T01:31:00.000Z)' }])
  // The job runs at 03:30 CEST after all.
  await app.inject('/heartbeats/nightly/ping')
  t.equal((await alertsOf(app, 'nightly'))[0]?.state, 'resolved')
  t.equal((await app.inject('/heartbeats/nightly')).json().due, '2026-03-30T00:40:00.000Z', 'then 02:30 CEST again: 00:30 UTC')

  // It falls back on 2026-10-25 (03:00 CEST → 02:00 CET): 02:30 happens twice; the job is expected by the second.
  clock.travel(Date.parse('2026-10-24T00:30:00Z')) // 02:30 CEST, Saturday
  const fall = (await app.inject('/heartbeats/nightly/ping')).json()
  t.equal(fall.due, '2026-10-25T01:40:00.000Z', 'a day of 25 hours: 02:30 CET, plus the grace')
  clock.travel(Date.parse('2026-10-25T00:30:00Z')) // the first 02:30 (CEST)
  const early = (await app.inject('/heartbeats/nightly/ping')).json()
  t.equal(early.due, '2026-10-26T01:40:00.000Z', 'a ping at the first 02:30 counts for the day: the next is expected at 02:30 CET the day after')
  clock.travel(Date.parse('2026-10-25T01:30:00Z')) // the second 02:30 (CET)
  t.equal((await app.inject('/heartbeats/nightly/ping')).json().due, '2026-10-26T01:40:00.000Z', 'as does one at the second: 01:30 UTC the next day')
  t.equal((await alertsOf(app, 'nightly')).filter((a) => a.state === 'open').length, 0, 'no miss across the change')

  // every replaces a schedule, and a schedule replaces every.
  const periodic = (await app.inject('/heartbeats/nightly/ping?every=2h')).json()
  t.notOk('schedule' in periodic)
  t.notOk('tz' in periodic)
  t.equal(periodic.due, iso(clock.now() + 2 * HOUR + 10 * MINUTE))
  const utc = (await app.inject('/heartbeats/nightly/ping?schedule=@hourly')).json()
  t.match(utc, { schedule: '@hourly', tz: 'UTC', every: '1h' }, 'UTC without a tz')
  const moved = (await app.inject('/heartbeats/nightly/ping?tz=Asia/Kolkata')).json()
  t.match(moved, { schedule: '@hourly', tz: 'Asia/Kolkata' }, 'a tz alone moves the schedule')
  t.equal(moved.due, '2026-10-25T02:40:00.000Z', 'Kolkata\'s hours start at :30 UTC')
  t.match((await app.inject('/heartbeats/nightly/ping')).json(), { schedule: '@hourly', tz: 'Asia/Kolkata' }, 'kept by a ping that leaves them out')
})

t.test('bad schedules: 400 with a code, nothing created or changed', async (t) => {
  const app = await build(t)
  const bad: Array<[string, string, RegExp]> = [
    ['a?schedule=nope', 'INVALID_SCHEDULE', /^schedule "nope" is not a cron expression/],
    ['a?schedule=0%2025%20*%20*%20*', 'INVALID_SCHEDULE', /hour/],
    ['a?schedule=*%20*%20*%20*%20*%20*%20*%20*', 'INVALID_SCHEDULE', /not a cron expression/],
    ['a?schedule=0%200%2030%202%20*', 'INVALID_SCHEDULE', /^schedule "0 0 30 2 \*" never occurs$/],
    ['a?schedule=@daily&tz=Mars/Olympus', 'INVALID_SCHEDULE', /^tz "Mars\/Olympus" is not an IANA time zone/],
    ['a?tz=Europe/Berlin', 'INVALID_SCHEDULE', /^tz is the time zone of a schedule/],
    ['a?schedule=@daily&every=1d', 'INVALID_QUERY', /both every and schedule/],
    ['a?schedule=', 'VALIDATION_FAILED', /querystring\/schedule/],
    [`a?schedule=${'*'.repeat(101)}`, 'VALIDATION_FAILED', /querystring\/schedule/],
    [`a?schedule=@daily&tz=${'x'.repeat(65)}`, 'VALIDATION_FAILED', /querystring\/tz/],
    ['a?schedule=@daily&schedule=@hourly', 'INVALID_QUERY', /given 2 times/]
  ]
  for (const [path, code, message] of bad) {
    for (const url of [`/heartbeats/${path}`, `/heartbeats/${path.replace('?', '/start?')}`]) {
      const res = await app.inject({ method: 'POST', url })
      t.equal(res.statusCode, 400, url)
      t.match(res.json(), { code, message }, url)
    }
  }
  t.same((await app.inject('/heartbeats')).json().heartbeats, [], 'nothing created')
  await app.inject('/heartbeats/a/ping?schedule=@daily')
  t.equal((await app.inject('/heartbeats/a/ping?schedule=nope')).statusCode, 400)
  t.match((await app.inject('/heartbeats/a')).json(), { schedule: '@daily', pings: [{ kind: 'success' }] }, 'nothing changed: the refused ping is not recorded')
})

t.test('HEARTBEATS_MAX: a new name past it is 409 HEARTBEATS_FULL; known names still ping, also concurrently', async (t) => {
  const app = await build(t, { HEARTBEATS_MAX: 3 })
  const answers = await Promise.all(Array.from({ length: 8 }, async (_, i) => await app.inject({ method: 'POST', url: `/heartbeats/m${i}` })))
  t.same(answers.map((a) => a.statusCode).sort(), [200, 200, 200, 409, 409, 409, 409, 409])
  const refused = answers.find((a) => a.statusCode === 409)
  t.same(refused?.json(), { statusCode: 409, code: 'HEARTBEATS_FULL', error: 'Conflict', message: 'there are 3 heartbeat monitors, the most allowed (HEARTBEATS_MAX); remove one first' })
  const listed = (await app.inject('/heartbeats')).json()
  t.equal(listed.count, 3)
  const known = listed.heartbeats[0].name as string
  t.equal((await app.inject(`/heartbeats/${known}/fail`)).statusCode, 200, 'a known name still pings')
  t.equal((await app.inject(`/heartbeats/${known}`)).statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: `/heartbeats/${known}` })).statusCode, 200)
  t.equal((await app.inject('/heartbeats/newcomer/ping')).statusCode, 200, 'room once one is removed')
})

t.test('ping URLs take the token as ?token= or a header, with the publish scope; showing a monitor needs subscribe', async (t) => {
  const app = await build(t, { API_TOKEN: 'secret' })
  t.equal((await app.inject('/heartbeats/a/ping')).statusCode, 401)
  t.equal((await app.inject('/heartbeats/a/ping?token=wrong')).statusCode, 401)
  const byQuery = await app.inject('/heartbeats/a/ping?token=secret&every=1h')
  t.equal(byQuery.statusCode, 200, 'a GET ping URL carries its token')
  t.match(byQuery.json(), { every: '1h' })
  t.equal((await app.inject({ method: 'POST', url: '/heartbeats/a?token=secret' })).statusCode, 200, 'the POST ping too')
  t.equal((await app.inject({ url: '/heartbeats/a/start', headers: { authorization: 'Bearer secret' } })).statusCode, 200)
  t.equal((await app.inject('/heartbeats/a')).statusCode, 401)
  t.equal((await app.inject('/heartbeats/a?token=secret')).statusCode, 401, 'reading a monitor takes no query token')
  t.equal((await app.inject({ url: '/heartbeats/a', headers: { authorization: 'Bearer secret' } })).statusCode, 200)
})

t.test('the user agent kept is cleaned and capped; addresses are kept as seen', async (t) => {
  t.equal(cleanText('a\u0000b\u001fc\u007fd\u0085e'), 'a b c d e', 'control characters become spaces')
  t.equal(cleanText('x\uD800y\uDC00z😀'), 'x\uFFFDy\uFFFDz😀', 'lone surrogates replaced, pairs kept')
  t.equal(cleanText('é'.repeat(500)).length, USER_AGENT_MAX)
  t.equal([...cleanText('😀'.repeat(300))].length, USER_AGENT_MAX, 'cut by characters, not halfway through one')
  const app = await build(t)
  await app.inject({ url: '/heartbeats/ua/ping', headers: { 'user-agent': 'u'.repeat(5000) } })
  await app.inject({ url: '/heartbeats/ua/ping', headers: { 'user-agent': '' } })
  const [empty, long] = (await app.inject('/heartbeats/ua')).json().pings
  t.equal(long.userAgent, 'u'.repeat(USER_AGENT_MAX))
  t.equal(empty.userAgent, '')
})

t.test('core: the check reads only the due monitors, never the whole list, and one instance of a cluster checks each period', async (t) => {
  const { clock, timers } = mockTimers()
  const backend = createMemoryBackend({ historySize: 100 })
  const read: string[] = []
  let lists = 0
  const store: HeartbeatStore = {
    ...backend.heartbeats,
    list: async () => { lists++; return await backend.heartbeats.list() },
    due: async (now) => {
      const due = await backend.heartbeats.due(now)
      read.push(...due.map((m) => m.name))
      return due
    }
  }
  const publisher = createPublisher(backend.store)
  const claims = backend.claims
  const make = (): ReturnType<typeof createHeartbeats> => createHeartbeats({
    store, publisher, log: pino({ level: 'silent' }), periodMs: 1000, timers, claim: async (slot) => await claims.claim(`check:${slot}`, 2000)
  })
  const [a, b] = [make(), make()]
  for (let i = 0; i < 1000; i++) await a.ping(`m${i}`, { everyMs: i < 3 ? MINUTE : HOUR, graceMs: 0 })
  clock.advance(MINUTE)
  await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()])
  t.same(read.sort(), ['m0', 'm1', 'm2'], 'three monitors due of a thousand: only they are read, by one instance')
  t.equal(lists, 0, 'the list is never read')
  t.equal((await backend.store.alerts()).length, 3, 'one alert each')
  clock.advance(1000)
  await b.tick()
  t.same(read.length, 3, 'the next period: nothing more is due')
  clock.advance(HOUR)
  await Promise.all([a.tick(), b.tick()])
  t.equal(read.length, 3 + 997, 'the rest, once')
})

t.test('core: settings merge and deadlines', async (t) => {
  const now = Date.parse('2026-06-01T00:00:00Z')
  const base = mergeSettings('n', undefined, {}, now)
  t.same(base, { everyMs: 5 * MINUTE, graceMs: MINUTE, severity: 'critical', location: 'n' })
  const scheduled = mergeSettings('n', base, { schedule: '0 */6 * * *' }, now)
  t.same(scheduled, { ...base, everyMs: 6 * HOUR, schedule: '0 */6 * * *', tz: 'UTC' })
  t.same(mergeSettings('n', scheduled, { graceMs: 0 }, now), { ...scheduled, graceMs: 0 }, 'kept')
  t.same(mergeSettings('n', scheduled, { everyMs: HOUR }, now), { ...base, everyMs: HOUR }, 'every replaces it')
  t.throws(() => mergeSettings('n', base, { tz: 'UTC' }, now), InvalidScheduleError)
  t.equal(nextDeadline(scheduled, 'success', now), now + 6 * HOUR + MINUTE)
  t.equal(nextDeadline(scheduled, 'start', now), now + MINUTE, 'a start: the grace alone')
  t.equal(nextDeadline(base, 'fail', now), now + 6 * MINUTE)
  t.equal(nextDeadline({ ...base, everyMs: LATEST }, 'success', now), LATEST, 'never past the latest date')
  t.equal(nextOccurrence('0 0 1 1 *', 'UTC', Date.parse('2026-06-01T00:00:00Z')), Date.parse('2027-01-01T00:00:00Z'))
  t.equal(scheduleProblem('@yearly', 'UTC', now), undefined)
  t.equal(nextOccurrence('0 0 30 2 *', 'UTC', now), LATEST, 'no occurrence left: the latest date')
  // Impossible dates are told apart without croner's search to the year 3000 (or its stack overflow).
  for (const never of ['0 0 31 4,6,9,11 *', '0 0 30,31 2 *', '* * 31 2,4 *']) t.equal(scheduleProblem(never, 'Europe/Berlin', now), `schedule "${never}" never occurs`, never)
  for (const rare of ['0 0 29 2 *', '0 0 31 2,3 *', '0 0 31 4 1', '0 0 L 2 *', '0 0 * 2 *']) t.equal(scheduleProblem(rare, 'UTC', now), undefined, rare)
  // More schedules than are kept parsed: the cache starts over, and every answer stays right.
  const problems = Array.from({ length: 1100 }, (_, i) => scheduleProblem(`${i % 60} ${Math.floor(i / 60) % 24} * * *`, 'UTC', now)).filter((p) => p !== undefined)
  t.same(problems, [], '1100 schedules, each read right')
  t.equal(nextOccurrence('5 4 * * *', 'UTC', now), Date.parse('2026-06-01T04:05:00Z'))
  t.match(missMessage({ name: 'x', ...scheduled, lastPing: 0, deadline: 0 }), /expected on schedule 0 \*\/6 \* \* \* \(UTC\)/)
  t.match(missMessage({ name: 'x', ...base, lastPing: 0, deadline: 0 }), /expected every 5m/)
})

t.test('the deadline heap: due ones earliest first, whatever the order of changes (checked against a plain map)', async (t) => {
  fc.assert(fc.property(
    fc.array(fc.record({ op: fc.constantFrom('set', 'set', 'delete'), name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), deadline: fc.integer({ min: 0, max: 50 }) }), { maxLength: 200 }),
    fc.integer({ min: 0, max: 50 }),
    (ops, now) => {
      const heap = createDeadlineHeap()
      const plain = new Map<string, number>()
      for (const { op, name, deadline } of ops) {
        if (op === 'set') { heap.set(name, deadline); plain.set(name, deadline) } else { heap.delete(name); plain.delete(name) }
      }
      const expected = [...plain].filter(([, d]) => d <= now).sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1)).map(([n]) => n)
      return heap.size === plain.size && JSON.stringify(heap.due(now)) === JSON.stringify(expected)
    }
  ))
  const heap = createDeadlineHeap()
  heap.delete('none')
  t.same(heap.due(10), [])
  t.equal(heap.size, 0)
})

t.test('the monitors a dashboard shows: GET /heartbeats with schedule and run fields', async (t) => {
  const { clock, timers } = mockTimers()
  const app = await build(t, {}, { timers })
  await app.inject('/heartbeats/a/start?schedule=0%203%20*%20*%20*&tz=Europe/Lisbon')
  await app.inject('/heartbeats/b/ping?every=1m&grace=0s')
  clock.advance(MINUTE)
  await app.heartbeats.check()
  await waitFor(async () => (await alertsOf(app, 'b')).length === 1)
  const listed = (await app.inject('/heartbeats')).json().heartbeats
  t.match(listed, [{ name: 'a', schedule: '0 3 * * *', tz: 'Europe/Lisbon', state: 'missed' }, { name: 'b', state: 'missed' }])
  t.ok(listed[0].startedAt)
})

t.test('a GET ping counts against the publish budget as a POST does; reading a monitor does not', async (t) => {
  const app = await build(t, { RATE_LIMIT_MAX: 2, RATE_LIMIT_WINDOW: '1 minute' })
  t.equal((await app.inject('/heartbeats/a/start')).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/heartbeats/a' })).statusCode, 200)
  const third = await app.inject('/heartbeats/a/0')
  t.equal(third.statusCode, 429)
  t.equal(third.json().code, 'RATE_LIMITED')
  for (let i = 0; i < 5; i++) t.equal((await app.inject('/heartbeats/a')).statusCode, 200, 'reads are not limited')
  t.equal((await app.inject('/heartbeats/a')).json().pings.length, 2, 'the refused ping is not recorded')
})

t.test('the token of a GET ping URL never reaches a log line', async (t) => {
  const token = 'Hb-5e4d3c2b1a09f8e7d6c5'
  const { fastify, text } = await buildLogged(t, { API_TOKEN: token, LOG_LEVEL: 'debug' })
  t.equal((await fastify.inject(`/heartbeats/nightly/start?every=1d&token=${token}`)).statusCode, 200)
  t.equal((await fastify.inject(`/heartbeats/nightly/1?token=${token}`)).statusCode, 200)
  t.equal((await fastify.inject(`/heartbeats/nightly/1?token=${token}x`)).statusCode, 401)
  t.match(text(), /heartbeats\/nightly\/start/, 'the requests were logged')
  t.notOk(text().includes(token), 'without the token')
})

t.test('a ping without a User-Agent keeps none', async (t) => {
  const { fastify, url } = await listen(t)
  const { port } = new URL(url)
  const res = await exchange(t, Number(port), 'GET /heartbeats/bare/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
  t.equal(res.status, 200)
  res.socket.destroy()
  const [ping] = (await fastify.inject('/heartbeats/bare')).json().pings
  t.same(Object.keys(ping).sort(), ['at', 'kind', 'source'])
  t.equal(ping.source, '127.0.0.1')
})
