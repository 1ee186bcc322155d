import t from 'tap'
import fc from 'fast-check'
import { filterReplay, nextPageAfter, parseEventFilter, parseSince, passes, replayPages, type EventFilterQuery } from '../plugins/core/event-filter'
import type { Alert, AlertUpdate, Chat, Event } from '../schemas/events'
import { listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { StreamClient } from './helpers/stream-client'
import { waitFor } from './helpers/wait'

const alert = (fields: Partial<Alert> = {}): Alert => ({
  id: 'a1',
  timestamp: '2026-01-01T12:00:00.000Z',
  type: 'alert',
  message: 'm',
  location: 'North',
  severity: 'warning',
  state: 'open',
  count: 1,
  updatedAt: '2026-01-01T12:00:00.000Z',
  source: 'api',
  ...fields
})
const update = (fields: Partial<Alert> = {}): AlertUpdate => ({ id: 'u1', timestamp: '2026-01-01T12:01:00.000Z', type: 'alert_update', change: 'acknowledged', alert: alert({ state: 'acknowledged', ...fields }) })
const chat: Chat = { id: 'c1', timestamp: '2026-01-01T12:02:00.000Z', type: 'chat', sender: 's', message: 'm' }

t.test('filters as a table: values within a parameter OR, parameters AND', async (t) => {
  const cases: Array<[EventFilterQuery, Event, boolean]> = [
    [{}, chat, true],
    [{ types: 'alert' }, alert(), true],
    [{ types: 'alert' }, update(), false],
    [{ types: 'alert' }, chat, false],
    [{ types: 'chat, alert_update' }, chat, true],
    [{ types: 'chat,alert_update' }, update(), true],
    [{ severity: 'critical' }, alert(), false],
    [{ severity: 'critical,warning' }, alert(), true],
    [{ severity: 'critical' }, chat, true],
    [{ severity: 'critical', types: 'alert' }, chat, false],
    [{ min_severity: 'warning' }, alert({ severity: 'info' }), false],
    [{ min_severity: 'warning' }, alert({ severity: 'warning' }), true],
    [{ min_severity: 'warning' }, alert({ severity: 'critical' }), true],
    [{ min_severity: 'critical' }, update({ severity: 'warning' }), false],
    [{ min_severity: 'info' }, alert({ severity: 'info' }), true],
    [{ min_severity: 'critical', severity: 'info,critical' }, alert({ severity: 'info' }), false],
    [{ location: 'North,South' }, alert({ location: 'South' }), true],
    [{ location: 'North' }, alert({ location: 'north' }), false],
    [{ location: 'North' }, update({ location: 'North' }), true],
    [{ key: 'disk' }, alert(), false],
    [{ key: 'disk' }, alert({ key: 'disk' }), true],
    [{ tag: 'db,net' }, alert({ tags: ['disk', 'db'] }), true],
    [{ tag: 'db' }, alert({ tags: [] }), false],
    [{ tag: 'db' }, alert(), false],
    [{ tag: 'db', location: 'North' }, update({ tags: ['db'], location: 'South' }), false],
    [{ tag: 'db', location: 'North', severity: 'warning', key: 'k' }, update({ tags: ['db'], key: 'k' }), true],
    [{ types: 'alert,chat,alert_update' }, update(), true]
  ]
  for (const [query, event, expected] of cases) {
    const filter = parseEventFilter(query)
    if (typeof filter === 'string') throw new Error(filter)
    t.equal(passes(event, filter), expected, `${JSON.stringify(query)} on ${event.type}${event.type === 'chat' ? '' : ` ${JSON.stringify(event.type === 'alert' ? event : event.alert).slice(90, 170)}`}`)
  }
})

t.test('no filter, and filters that let everything through, are one: the unfiltered group', async (t) => {
  t.equal(parseEventFilter({}), undefined)
  t.equal(parseEventFilter({ types: 'alert_update,chat,alert' }), undefined)
  t.equal(parseEventFilter({ min_severity: 'info' }), undefined)
})

t.test('the filter key is canonical: order and repeats of values do not matter, different filters differ', async (t) => {
  const key = (query: EventFilterQuery): string => {
    const filter = parseEventFilter(query)
    if (filter === undefined || typeof filter === 'string') throw new Error(String(filter))
    return filter.key
  }
  t.equal(key({ severity: 'critical,warning', location: 'b,a' }), key({ location: 'a, b,a', severity: 'warning,critical' }))
  t.equal(key({ types: 'chat,alert' }), key({ types: 'alert,chat' }))
  const distinct = [{ severity: 'critical' }, { location: 'critical' }, { key: 'critical' }, { tag: 'critical' }, { types: 'alert' }, { min_severity: 'critical' }, { location: 'a,b' }, { location: 'a' }, { location: 'a\u0000b' }]
  t.equal(new Set(distinct.map(key)).size, distinct.length)
})

t.test('filter refusals name the parameter', async (t) => {
  t.match(parseEventFilter({ types: 'alert,alerts' }), /^querystring\/types .* got "alerts"$/)
  t.match(parseEventFilter({ types: ' , ' }), /^querystring\/types must list at least one value/)
  t.match(parseEventFilter({ severity: 'bad' }), /^querystring\/severity/)
  t.match(parseEventFilter({ min_severity: 'warning,critical' }), /^querystring\/min_severity must be one of/)
  t.match(parseEventFilter({ tag: ',' }), /^querystring\/tag must list at least one value/)
  t.match(parseEventFilter({ types: 'x'.repeat(500) }), /got "x{50}"$/, 'echoes at most 50 characters')
})

t.test('a repeat that takes an alert out of a filter reaches that filter once, with what it was; later updates do not', async (t) => {
  const { fastify, url, wsUrl } = await listen(t)
  const critical = await Client.open(`${wsUrl}/ws?severity=critical`, t)
  const gateA = await Client.open(`${wsUrl}/ws?location=Gate%20A`, t)
  const stream = await StreamClient.open(`${url}/events?format=ndjson&min_severity=critical&types=alert,alert_update`, t)
  await waitFor(() => fastify.fanout.size === 3)
  const { publisher } = fastify
  const first = await publisher.publish({ type: 'alert', message: 'door', location: 'Gate A', severity: 'critical', key: 'K', tags: ['door'] })
  const moved = await publisher.publish({ type: 'alert', message: 'door', location: 'Gate B', severity: 'warning', key: 'K' })
  await publisher.act({ key: 'K' }, 'resolve', 'Ana')
  const marker = await publisher.publish({ type: 'alert', message: 'marker', location: 'Gate A', severity: 'critical' })
  for (const [name, next] of [['severity=critical', async () => await critical.next()], ['location=Gate A', async () => await gateA.next()], ['NDJSON min_severity=critical', async () => (await stream.next()).data]] as const) {
    t.same(await next(), first, `${name}: the alert`)
    t.match(await next(), {
      type: 'alert_update',
      change: 'repeated',
      alert: { id: first.id, severity: 'warning', location: 'Gate B', count: 2 },
      previous: { severity: 'critical', location: 'Gate A', tags: ['door'] }
    }, `${name}: the repeat that took it out, with what it was`)
    t.same(await next(), marker, `${name}: not the resolve of an alert outside the filter`)
  }
  t.equal(moved.id, first.id)
  // A repeat that changes none of severity, location and tags carries no previous.
  await publisher.publish({ type: 'alert', message: 'again', location: 'Gate A', severity: 'critical', key: 'M' })
  await publisher.publish({ type: 'alert', message: 'again, new text', location: 'Gate A', severity: 'critical', key: 'M' })
  await critical.next()
  const same = await critical.next()
  t.match(same, { type: 'alert_update', change: 'repeated' })
  t.notOk('previous' in same, 'no previous when nothing filters read changed')
})

t.test('a list parameter given more than once is one comma list on /ws, /events and GET /alerts; any other, given twice, is refused saying so', async (t) => {
  const { fastify, url, wsUrl } = await listen(t)
  const raise = async (severity: 'info' | 'warning' | 'critical'): Promise<string> =>
    (await fastify.publisher.publish({ type: 'alert', message: severity, location: 'North', severity })).id
  const [info, , critical] = [await raise('info'), await raise('warning'), await raise('critical')]
  // As URL builders send a list: URLSearchParams.append, requests' params={'severity': [...]}.
  const repeated = 'severity=info&severity=critical'

  const board = await fastify.inject({ url: `/alerts?${repeated}` })
  t.equal(board.statusCode, 200)
  t.same((board.json() as { alerts: Alert[] }).alerts.map((a) => a.id), [critical, info], 'the board, newest first')

  const stream = await StreamClient.open(`${url}/events?poll=1&format=ndjson&since=all&${repeated}`, t)
  await stream.ended
  t.same(stream.records.map((r) => r.data.id), [info, critical], 'an /events replay')

  const client = await Client.open(`${wsUrl}/ws?since=all&${repeated}`, t)
  t.same([(await client.next()).id, (await client.next()).id], [info, critical], 'a /ws replay')
  await raise('warning')
  const live = await raise('info')
  t.equal((await client.next()).id, live, 'and live: the warning did not pass')

  for (const path of ['/alerts', '/events', '/ws']) {
    const res = await fastify.inject({ url: `${path}?since=all&since=10m` })
    t.same([res.statusCode, res.json().message], [400, 'querystring/since is given 2 times; give it once'], path)
  }
  t.equal((await fastify.inject({ url: '/alerts?limit=5&limit=6' })).json().message, 'querystring/limit is given 2 times; give it once')
  t.equal((await fastify.inject({ url: '/alerts?cache=1&cache=2' })).statusCode, 200, 'a parameter the route does not take is dropped, given once or twice')
})

t.test('a value with a comma: given as a repeated parameter, each value is taken whole, on /ws, /events and GET /alerts', async (t) => {
  const { fastify, url, wsUrl } = await listen(t)
  const raise = async (location: string, tags?: string[]): Promise<string> =>
    (await fastify.publisher.publish({ type: 'alert', message: location, location, ...(tags === undefined ? {} : { tags }) })).id
  const paris = await raise('Paris, France', ['a,b'])
  await raise('Paris')
  await raise('France')
  const lyon = await raise('Lyon')
  const one = 'location=Paris%2C%20France&location='
  const two = 'location=Paris%2C%20France&location=Lyon'

  const board = async (query: string): Promise<string[]> => (await fastify.inject({ url: `/alerts?${query}` })).json().alerts.map((a: Alert) => a.id)
  t.same(await board(one), [paris], 'one value with a comma, an empty one beside it')
  t.same(await board(two), [lyon, paris], 'two values, one with a comma')
  t.same(await board('tag=a%2Cb&tag=a%2Cb'), [paris], 'a tag with a comma')
  t.same((await board('location=Paris%2C%20France')).length, 2, 'given once, it is a comma list, as before: Paris and France')
  t.same((await fastify.inject({ url: '/alerts?location=&location=' })).json().message, 'querystring/location must list at least one value')
  // Names from a fixed set hold no comma: split at commas in either form, as before.
  t.same((await fastify.inject({ url: '/alerts?severity=info,critical&severity=warning' })).json().count, 4)
  t.equal((await fastify.inject({ url: '/events?poll=1&types=chat,alert_update&types=alert' })).statusCode, 200)

  const stream = await StreamClient.open(`${url}/events?poll=1&format=ndjson&since=all&${two}`, t)
  await stream.ended
  t.same(stream.records.map((r) => r.data.id), [paris, lyon], 'an /events replay')
  const client = await Client.open(`${wsUrl}/ws?since=all&${one}`, t)
  t.equal((await client.next()).id, paris, 'a /ws replay')
  await raise('Paris')
  const live = await raise('Paris, France')
  t.equal((await client.next()).id, live, 'and live: Paris alone did not pass')
})

t.test('since: id, all, durations, ISO 8601; mistakes that look like times are refused', async (t) => {
  const now = Date.parse('2026-01-01T12:00:00Z')
  t.same(parseSince('all', now), { kind: 'all' })
  t.same(parseSince('7bb4eacd-9d48-4fff-a9d0-a7caffbd52a8', now), { kind: 'id', id: '7bb4eacd-9d48-4fff-a9d0-a7caffbd52a8' })
  t.same(parseSince('not-a-uuid', now), { kind: 'id', id: 'not-a-uuid' }, 'any other text is an id (an unknown one gets the gap)')
  for (const [text, ms] of [['500ms', 500], ['30s', 30_000], ['10m', 600_000], ['2h', 7_200_000], ['1d', 86_400_000], ['0s', 0]] as const) {
    t.same(parseSince(text, now), { kind: 'time', after: now - ms }, text)
  }
  for (const text of ['2026-01-01T11:00:00Z', '2026-01-01T11:00Z', '2026-01-01T13:00:00.123+02:00', '2026-01-01T11:00:00.5z', '2026-01-01T06:00:00-0500']) {
    const since = parseSince(text, now)
    t.same(since, { kind: 'time', after: Date.parse(text.replace(/z$/, 'Z').replace(/-0500$/, '-05:00')) }, text)
  }
  for (const text of ['10', '10y', '1.5h', '-10m', '2026-01-01', '2026-01-01T12:00:00', '2026-01-01 12:00:00Z', '2026-02-31T00:00:00Z', '2026-01-01T24:61:00Z', '9999999999s']) {
    t.type(parseSince(text, now), 'string', text)
  }
  t.match(parseSince('2026-01-01', now, 'headers/last-event-id'), /^headers\/last-event-id looks like a date/)
})

t.test('a replay by time keeps the events stamped after the moment; a filter keeps the gap', async (t) => {
  const events: Event[] = [alert(), update(), chat]
  const since = async (id?: string): Promise<{ found: boolean, events: Event[] }> => ({ found: id === undefined, events })
  t.same((await replayPages(since, { kind: 'time', after: Date.parse('2026-01-01T12:01:00.000Z') })(undefined, 10)).events, [chat])
  t.same(await replayPages(since, { kind: 'all' })(undefined, 10), { found: true, events })
  t.same(await replayPages(since, { kind: 'id', id: 'x' })(undefined, 10), { found: false, events })
  const filter = parseEventFilter({ types: 'chat' })
  if (typeof filter === 'string') throw new Error(filter)
  t.same(filterReplay({ found: false, events }, filter), { found: false, events: [chat] })
})

t.test('the next page starts at the page\'s next, else after its last event; none after the last page', async (t) => {
  const events: Event[] = [alert(), chat]
  t.equal(nextPageAfter({ found: true, events, more: true }), chat.id)
  t.equal(nextPageAfter({ found: true, events: [], more: true, next: 'n' }), 'n', 'a page whose events were all left out still moves on')
  t.equal(nextPageAfter({ found: true, events }), undefined, 'no more')
  t.equal(nextPageAfter({ found: true, events: [], more: true }), undefined)
})

// The property: a random sequence of events, subscribers with random filters
// over each transport; each subscriber's stream is exactly the full stream
// (the store's order) with the filter applied, computed here independently.
const SEVERITIES = ['info', 'warning', 'critical'] as const
const LOCATIONS = ['North', 'South', 'East']
const TAGS = ['db', 'net', 'disk']
const KEYS = ['k1', 'k2']
const TYPES = ['alert', 'chat', 'alert_update'] as const

interface Spec { types?: string[], severity?: string[], min?: number, location?: string[], key?: string[], tag?: string[] }

function oracle (event: Event, spec: Spec): boolean {
  if (spec.types !== undefined && !spec.types.includes(event.type)) return false
  if (event.type === 'chat') return true
  if (event.type === 'alert') return alertOracle(event, spec)
  // An update passes for the alert as it stands, or as it was before a repeat changed it.
  const { previous } = event
  return alertOracle(event.alert, spec) || (previous !== undefined &&
    alertOracle({ ...event.alert, severity: previous.severity, location: previous.location, tags: previous.tags }, spec))
}

function alertOracle (a: Alert, spec: Spec): boolean {
  if (spec.severity !== undefined && !spec.severity.includes(a.severity)) return false
  if (spec.min !== undefined && SEVERITIES.indexOf(a.severity) < spec.min) return false
  if (spec.location !== undefined && !spec.location.includes(a.location)) return false
  if (spec.key !== undefined && (a.key === undefined || !spec.key.includes(a.key))) return false
  if (spec.tag !== undefined && !(a.tags ?? []).some((tag) => spec.tag?.includes(tag) === true)) return false
  return true
}

function queryOf (spec: Spec): string {
  const params = new URLSearchParams()
  if (spec.types !== undefined) params.set('types', spec.types.join(','))
  if (spec.severity !== undefined) params.set('severity', spec.severity.join(','))
  if (spec.min !== undefined) params.set('min_severity', SEVERITIES[spec.min] as string)
  if (spec.location !== undefined) params.set('location', spec.location.join(','))
  if (spec.key !== undefined) params.set('key', spec.key.join(','))
  if (spec.tag !== undefined) params.set('tag', spec.tag.join(','))
  return params.toString()
}

const subset = <T>(values: readonly T[]): fc.Arbitrary<T[] | undefined> =>
  fc.option(fc.subarray([...values], { minLength: 1 }), { nil: undefined })

const spec: fc.Arbitrary<Spec> = fc.record({
  types: subset(TYPES),
  severity: subset(SEVERITIES),
  min: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  location: subset(LOCATIONS),
  key: subset(KEYS),
  tag: subset(TAGS)
}, { requiredKeys: [] })

type Step = { kind: 'alert', severity: typeof SEVERITIES[number], location: string, tags: string[], key?: string } | { kind: 'chat' } | { kind: 'act', which: number, action: 'acknowledge' | 'resolve' }
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('alert' as const), severity: fc.constantFrom(...SEVERITIES), location: fc.constantFrom(...LOCATIONS), tags: fc.subarray(TAGS), key: fc.option(fc.constantFrom(...KEYS), { nil: undefined }) }, { requiredKeys: ['kind', 'severity', 'location', 'tags'] }),
  fc.record({ kind: fc.constant('chat' as const) }),
  fc.record({ kind: fc.constant('act' as const), which: fc.nat(), action: fc.constantFrom('acknowledge' as const, 'resolve' as const) })
)
// Steps in chunks: a chunk is published in one turn, so batches of several events are fanned out too.
const chunks = fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 })
const transports = fc.constantFrom('sse' as const, 'ndjson' as const, 'websocket' as const)

t.test('property: every subscriber\'s stream is the full stream with its filter applied, on every transport', async (t) => {
  const { fastify, url, wsUrl } = await listen(t, { HISTORY_SIZE: 1000, REPLAY_WINDOW: 1000 })
  const { publisher, backend: { store }, fanout } = fastify
  let runs = 0
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(spec, transports), { minLength: 1, maxLength: 5 }), chunks, async (subscribers, steps) => {
    runs++
    const marker = await publisher.publish({ type: 'chat', sender: 'test', message: `run ${runs}` })
    const readers = await Promise.all(subscribers.map(async ([s, transport]) => {
      const query = queryOf(s)
      if (transport === 'websocket') {
        const client = await Client.open(`${wsUrl}/ws?${query}`, t)
        const frames: Array<Record<string, unknown>> = []
        client.socket.on('message', () => {})
        return { spec: s, done: async () => { await client.closed; while (client.pending > 0) frames.push(await client.next()); return frames } }
      }
      const stream = await StreamClient.open(`${url}/events?format=${transport}&${query}`, t)
      return { spec: s, done: async () => { await stream.ended; return stream.records.map((r) => r.data) } }
    }))
    await waitFor(() => fanout.size === subscribers.length)
    const raised: string[] = []
    for (const chunk of steps) {
      await Promise.all(chunk.map(async (s) => {
        if (s.kind === 'chat') return await publisher.publish({ type: 'chat', sender: 's', message: 'm' })
        if (s.kind === 'alert') {
          const a = await publisher.publish({ type: 'alert', message: 'm', location: s.location, severity: s.severity, tags: s.tags, ...(s.key === undefined ? {} : { key: s.key }) })
          raised.push(a.id)
          return a
        }
        const id = raised[s.which % Math.max(1, raised.length)]
        if (id !== undefined) await publisher.act({ id }, s.action, 'x').catch(() => undefined)
      }))
    }
    const full = (await store.since(marker.id)).events
    // Wait for the last event to be written, then end every subscriber: their streams are then complete.
    await new Promise((resolve) => setImmediate(resolve))
    fanout.close(1001, 'end of run')
    for (const reader of readers) {
      const got = await reader.done()
      const expected = full.filter((event) => oracle(event, reader.spec))
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        throw new Error(`filter ${queryOf(reader.spec)}: got ${got.length} events, expected ${expected.length}`)
      }
    }
    await waitFor(() => fanout.size === 0)
  }), { numRuns: 25 })
  t.equal(runs >= 25, true, `${runs} runs`)
})

t.test('a replay read in pages: the first from where asked, the next after the last event read, kept or not', async (t) => {
  const events: Event[] = [alert(), update(), chat]
  const asked: Array<[string | undefined, number | undefined]> = []
  // A store of these three events, read with a limit.
  const since = async (id?: string, limit = Infinity): Promise<{ found: boolean, events: Event[], more?: boolean }> => {
    asked.push([id, limit])
    const from = id === undefined ? 0 : events.findIndex((e) => e.id === id) + 1
    const rest = events.slice(from)
    return rest.length > limit ? { found: true, events: rest.slice(0, limit), more: true } : { found: true, events: rest }
  }
  const byId = replayPages(since, { kind: 'id', id: events[0]?.id ?? '' })
  t.same(await byId(undefined, 1), { found: true, events: [events[1]], more: true })
  t.same(await byId(events[1]?.id, 1), { found: true, events: [chat] })
  t.same(asked, [[events[0]?.id, 1], [events[1]?.id, 1]])
  // By time: what was stamped before the moment is left out, and the next page still starts after it.
  const byTime = replayPages(since, { kind: 'time', after: Date.parse('2026-01-01T12:01:00.000Z') })
  t.same(await byTime(undefined, 2), { found: true, events: [], more: true, next: events[1]?.id })
  t.same(await byTime(events[1]?.id, 2), { found: true, events: [chat], next: chat.id })
  t.same(await byTime(chat.id, 2), { found: true, events: [] }, 'an empty page says nothing of where next')
  t.same(await replayPages(since, { kind: 'all' })(undefined, 5), { found: true, events })
})
