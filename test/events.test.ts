import t from 'tap'
import { connect } from 'node:net'
import { join } from 'node:path'
import { build, listen } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { once, waitFor, WAIT_MS } from './helpers/wait'
import { Client, refusedUpgrade } from './helpers/ws-client'
import { StreamClient, fetchText, ndjsonFrames } from './helpers/stream-client'
import type { FastifyInstance } from 'fastify'
import { publishWhile } from './helpers/http'

type Body = Record<string, unknown>

async function alert (fastify: FastifyInstance, fields: Body = {}): Promise<Body> {
  const res = await fastify.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l', ...fields } })
  if (res.statusCode !== 200) throw new Error(res.body)
  return res.json()
}

async function chat (fastify: FastifyInstance, message = 'hello'): Promise<Body> {
  return (await fastify.inject({ method: 'POST', url: '/message', payload: { sender: 's', message } })).json()
}

t.test('SSE by default: retry hint, then each event as id, event (its type) and data (the /ws frame JSON)', async (t) => {
  const { fastify, url } = await listen(t)
  const stream = await StreamClient.open(`${url}/events`, t, {}, true)
  t.equal(stream.status, 200)
  t.match(stream.response.headers['content-type'], /^text\/event-stream/)
  t.equal(stream.response.headers['x-accel-buffering'], 'no')
  t.equal(stream.response.headers['cache-control'], 'no-store')
  t.equal(stream.response.headers['x-content-type-options'], 'nosniff', 'the security headers go out too')
  t.equal((await stream.next()).retry, 3000)
  await waitFor(() => fastify.fanout.count('sse') === 1)

  const a = await alert(fastify, { severity: 'critical' })
  const c = await chat(fastify)
  await fastify.inject({ method: 'POST', url: `/alerts/${a.id as string}/ack`, payload: { by: 'Ana' } })
  const first = await stream.next()
  t.same(first, { id: a.id, event: 'alert', data: a })
  t.same(await stream.next(), { id: c.id, event: 'chat', data: c })
  const update = await stream.next()
  t.equal(update.event, 'alert_update')
  t.match(update.data, { type: 'alert_update', change: 'acknowledged', alert: { id: a.id, state: 'acknowledged' } })
  t.equal(update.id, update.data.id)
})

t.test('NDJSON with ?format=ndjson or Accept: application/x-ndjson: one frame per line', async (t) => {
  const { fastify, url } = await listen(t)
  const byQuery = await StreamClient.open(`${url}/events?format=ndjson`, t)
  const byAccept = await StreamClient.open(`${url}/events`, t, { accept: 'application/x-ndjson' })
  for (const stream of [byQuery, byAccept]) t.match(stream.response.headers['content-type'], /^application\/x-ndjson/)
  await waitFor(() => fastify.fanout.count('ndjson') === 2)
  const a = await alert(fastify)
  const c = await chat(fastify, 'line\nbreak')
  for (const stream of [byQuery, byAccept]) t.same(await stream.take(2), [a, c], 'a newline inside a message stays inside its line')
  // ?format= wins over Accept.
  const sse = await StreamClient.open(`${url}/events?format=sse`, t, { accept: 'application/x-ndjson' })
  t.match(sse.response.headers['content-type'], /^text\/event-stream/)
})

t.test('HEAD /events answers the head at once and opens no stream: probes do not use up the connection cap', async (t) => {
  const { fastify, url, wsUrl } = await listen(t, { WS_MAX_CONNECTIONS_PER_ADDRESS: 2 })
  for (const [query, type] of [['', /^text\/event-stream/], ['?format=ndjson', /^application\/x-ndjson/], ['?poll=1', /^text\/event-stream/]] as const) {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/events${query}`, { method: 'HEAD', signal: AbortSignal.timeout(WAIT_MS) })
      t.equal(res.status, 200, `HEAD /events${query}`)
      t.match(res.headers.get('content-type'), type)
    }
  }
  t.equal(fastify.fanout.size, 0, 'no subscriber was added')
  const refused = await fetch(`${url}/events?types=nonsense`, { method: 'HEAD', signal: AbortSignal.timeout(WAIT_MS) })
  t.equal(refused.status, 400, 'a filter mistake is still refused')
  // The address's two connections are still free.
  await Client.open(`${wsUrl}/ws`, t)
  await Client.open(`${wsUrl}/ws`, t)
})

t.test('the Accept header picks the format by its q-values; SSE when it names neither', async (t) => {
  const app = await build(t)
  const cases: Array<[string | undefined, 'ndjson' | 'sse']> = [
    [undefined, 'sse'],
    ['application/x-ndjson', 'ndjson'],
    ['APPLICATION/X-NDJSON', 'ndjson'],
    ['application/x-ndjson;q=0, text/event-stream', 'sse'],
    ['text/event-stream, application/x-ndjson;q=0.5', 'sse'],
    ['text/event-stream;q=0.5, application/x-ndjson', 'ndjson'],
    ['text/*;q=0.1, application/*', 'ndjson'],
    ['*/*', 'sse'],
    ['application/json', 'sse'],
    ['not a media type', 'sse']
  ]
  for (const [accept, format] of cases) {
    const res = await app.inject({ url: '/events?poll=1', headers: accept === undefined ? {} : { accept } })
    t.equal(res.statusCode, 200, String(accept))
    t.match(res.headers['content-type'], format === 'ndjson' ? /^application\/x-ndjson/ : /^text\/event-stream/, `${String(accept)}: ${format}`)
  }
})

t.test('a quiet stream gets a keep-alive every SSE_HEARTBEAT_MS: a comment for SSE, a keepalive frame for NDJSON', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, url } = await listen(t, { SSE_HEARTBEAT_MS: 25000 }, { timers })
  const sse = await StreamClient.open(`${url}/events`, t, {}, true)
  const ndjson = await StreamClient.open(`${url}/events?format=ndjson`, t)
  await sse.next()
  await waitFor(() => fastify.fanout.size === 2)
  clock.advance(24999)
  // A marker after it: had a keep-alive gone out before the period, it would come first.
  await fastify.publisher.publish({ type: 'chat', sender: 's', message: 'marker' })
  t.match((await sse.next()).data, { type: 'chat', message: 'marker' }, 'nothing before the period (SSE)')
  t.match((await ndjson.next()).data, { type: 'chat', message: 'marker' }, 'nothing before the period (NDJSON)')
  clock.advance(1)
  t.same(await sse.next(), { data: {}, comment: 'keepalive' })
  t.same((await ndjson.next()).data, { type: 'keepalive' })
})

t.test('since in every form, on /events and /ws alike', async (t) => {
  const { clock, timers } = mockTimers()
  const { fastify, url, wsUrl } = await listen(t, {}, { timers })
  const old = await alert(fastify, { message: 'old' })
  clock.advance(60 * 60_000)
  const middle = await chat(fastify, 'middle')
  clock.advance(5 * 60_000)
  const recent = await alert(fastify, { message: 'recent' })
  clock.advance(3 * 60_000)
  const ids = (frames: Body[]): unknown[] => frames.map((f) => f.id)
  const cases: Array<[string, unknown[]]> = [
    ['all', [old.id, middle.id, recent.id]],
    [old.id as string, [middle.id, recent.id]],
    [recent.id as string, []],
    ['10m', [middle.id, recent.id]],
    ['90s', []],
    ['2h', [old.id, middle.id, recent.id]],
    ['120000ms', []],
    ['1d', [old.id, middle.id, recent.id]],
    [middle.timestamp as string, [recent.id]],
    [new Date(Date.parse(middle.timestamp as string) - 1).toISOString(), [middle.id, recent.id]],
    [(middle.timestamp as string).replace('Z', '+00:00'), [recent.id]],
    ['2000-01-01T00:00Z', [old.id, middle.id, recent.id]]
  ]
  for (const [since, expected] of cases) {
    const polled = ndjsonFrames((await fetchText(`${url}/events?format=ndjson&poll=1&since=${encodeURIComponent(since)}`)).text)
    t.same(ids(polled), expected, `/events?since=${since}`)
    const ws = await Client.open(`${wsUrl}/ws?since=${encodeURIComponent(since)}`, t)
    ws.send({ type: 'ping' })
    const got: Body[] = []
    for (let frame = await ws.next(); frame.type !== 'pong'; frame = await ws.next()) got.push(frame)
    t.same(ids(got), expected, `/ws?since=${since}`)
    ws.socket.close()
  }
})

t.test('an id no longer retained: the gap frame, then the whole history, on a stream and on a poll', async (t) => {
  const { fastify, url } = await listen(t)
  const a = await alert(fastify)
  const stream = await StreamClient.open(`${url}/events?since=00000000-0000-4000-8000-000000000000`, t)
  const gap = await stream.next()
  t.equal(gap.event, 'gap')
  t.equal(gap.id, undefined, 'a gap carries no id: EventSource keeps the last one it had')
  t.match(gap.data, { type: 'gap', message: /retained history/ })
  t.same((await stream.next()).data, a)
  const polled = ndjsonFrames((await fetchText(`${url}/events?format=ndjson&poll=1&since=gone`)).text)
  t.match(polled, [{ type: 'gap' }, { id: a.id }])
})

t.test('Last-Event-ID (what EventSource sends when it reconnects) takes the place of ?since=', async (t) => {
  const { fastify, url } = await listen(t)
  const [a, b, c] = [await alert(fastify), await alert(fastify), await alert(fastify)]
  const stream = await StreamClient.open(`${url}/events?since=all`, t, { 'last-event-id': a.id as string })
  t.same(await stream.take(2), [b, c], 'from after the last event received, not from ?since=all')
  const bad = await fetchText(`${url}/events`, { 'last-event-id': '2026-99-01T00:00:00Z' })
  t.equal(bad.status, 400)
  t.match(JSON.parse(bad.text), { code: 'INVALID_QUERY', message: /^headers\/last-event-id/ })
})

t.test('?poll=1 sends the replay, or the whole history, and ends the response', async (t) => {
  const { fastify, url } = await listen(t)
  const a = await alert(fastify, { severity: 'critical' })
  const c = await chat(fastify)
  const all = await fetchText(`${url}/events?poll=1&format=ndjson`)
  t.equal(all.status, 200)
  t.match(all.headers.get('content-type'), /^application\/x-ndjson/)
  t.same(ndjsonFrames(all.text), [a, c])
  const sse = await fetchText(`${url}/events?poll=true&types=chat`)
  t.match(sse.headers.get('content-type'), /^text\/event-stream/)
  t.equal(sse.text, `id: ${c.id as string}\nevent: chat\ndata: ${JSON.stringify(c)}\n\n`)
  const none = await fetchText(`${url}/events?poll=1&since=${c.id as string}`)
  t.equal(none.text, '', 'nothing new: an empty body')
  t.equal(fastify.fanout.size, 0, 'a poll never joins the fan-out')
  const notPoll = await StreamClient.open(`${url}/events?poll=0&format=ndjson`, t)
  await waitFor(() => fastify.fanout.size === 1)
  notPoll.close()
})

t.test('a poll of a history longer than one page reads it page by page: every event once, in order, filtered and by time too', async (t) => {
  for (const store of ['memory', 'sqlite'] as const) {
    const { clock, timers } = mockTimers()
    const { fastify, url } = await listen(t, { STORE: store, DATA_DIR: join(t.testdir(), store), REPLAY_WINDOW: 3000 }, { timers })
    const published: Body[] = []
    for (let i = 0; i < 1300; i++) {
      published.push(i % 3 === 0 ? await chat(fastify, `c${i}`) : await alert(fastify, { message: `a${i}` }))
      if (i === 999) clock.advance(60_000)
    }
    const ids = (frames: Body[]): unknown[] => frames.map((f) => f.id)
    // What the poll asks of the store: pages, never the whole history at once.
    const since = fastify.backend.store.since
    const limits: Array<number | undefined> = []
    fastify.backend.store.since = async (id, limit) => { limits.push(limit); return await since(id, limit) }
    t.same(ids(ndjsonFrames((await fetchText(`${url}/events?format=ndjson&poll=1`)).text)), ids(published), `${store}: all 1,300, three pages`)
    t.same(limits, [500, 500, 500], `${store}: read as three pages of 500`)
    t.same(ids(ndjsonFrames((await fetchText(`${url}/events?format=ndjson&poll=1&since=${published[99]?.id as string}`)).text)), ids(published.slice(100)), `${store}: after an id`)
    t.same(ids(ndjsonFrames((await fetchText(`${url}/events?format=ndjson&poll=1&since=30s`)).text)), ids(published.slice(1000)), `${store}: by time, the last 300`)
    t.same(ids(ndjsonFrames((await fetchText(`${url}/events?format=ndjson&poll=1&types=chat`)).text)), ids(published.filter((e) => e.sender !== undefined)), `${store}: chat only`)
    const gap = ndjsonFrames((await fetchText(`${url}/events?format=ndjson&poll=1&since=00000000-0000-4000-8000-000000000000`)).text)
    t.same(ids(gap), [undefined, ...ids(published)], `${store}: a gap frame, then everything once`)
  }
})

t.test('a poll whose place leaves the history between two pages is cut, not completed with the history again; a failing read mid-way cuts it too; the server serves on', async (t) => {
  const { fastify, url } = await listen(t, { REPLAY_WINDOW: 2000 })
  const published: Body[] = []
  for (let i = 0; i < 700; i++) published.push(await alert(fastify, { message: `a${i}` }))
  const since = fastify.backend.store.since
  t.teardown(() => { fastify.backend.store.since = since })
  // The second page's read finds its starting id gone, as when more than the
  // window was published while a slow reader held the poll.
  fastify.backend.store.since = async (id, limit) => id === published[499]?.id ? { found: false, events: published.slice(0, 3) as never } : await since(id, limit)
  await t.rejects(fetchText(`${url}/events?format=ndjson&poll=1`), 'the response ends without its last chunk')
  fastify.backend.store.since = async (id, limit) => {
    if (id === published[499]?.id) throw new Error('disk gone')
    return await since(id, limit)
  }
  await t.rejects(fetchText(`${url}/events?format=ndjson&poll=1`), 'a read that fails after the first page cuts the response too')
  fastify.backend.store.since = since
  const whole = ndjsonFrames((await fetchText(`${url}/events?format=ndjson&poll=1`)).text)
  t.equal(whole.length, 700, 'the next poll reads everything')
})

t.test('filters: each subscriber gets its slice, live and replayed; /ws too', async (t) => {
  const { fastify, url, wsUrl } = await listen(t)
  const before = await alert(fastify, { severity: 'critical', location: 'North' })
  await alert(fastify, { severity: 'info', location: 'North' })
  const critical = await StreamClient.open(`${url}/events?format=ndjson&since=all&severity=critical`, t)
  const southWarningUp = await StreamClient.open(`${url}/events?format=ndjson&location=South&min_severity=warning`, t)
  const chatOnly = await Client.open(`${wsUrl}/ws?types=chat`, t)
  const alertsOnly = await Client.open(`${wsUrl}/ws?types=alert&tag=db,disk`, t)
  await waitFor(() => fastify.fanout.size === 4)
  t.same((await critical.next()).data, before, 'the replay is filtered too')

  const southCritical = await alert(fastify, { severity: 'critical', location: 'South', tags: ['db'] })
  await alert(fastify, { severity: 'info', location: 'South' })
  const southWarning = await alert(fastify, { severity: 'warning', location: 'South' })
  const line = await chat(fastify)
  const ack = (await fastify.inject({ method: 'POST', url: `/alerts/${southCritical.id as string}/ack` })).json()
  t.equal(ack.state, 'acknowledged')
  const last = await alert(fastify, { severity: 'critical', location: 'North', tags: ['disk'] })

  // Alert filters leave chat alone: only `types` filters it out.
  t.same((await critical.take(4)).map((f) => f.type), ['alert', 'chat', 'alert_update', 'alert'], 'critical: two alerts, the chat line and the acknowledgement of one')
  const south = await southWarningUp.take(4)
  t.same(south.map((f) => f.id), [southCritical.id, southWarning.id, line.id, south[3]?.id], 'south, warning and up, and the chat line')
  t.match(south[3], { type: 'alert_update', change: 'acknowledged', alert: { id: southCritical.id } }, 'then the acknowledgement')
  t.same(await chatOnly.next(), line, 'chat passes on types alone')
  t.same([(await alertsOnly.next()).id, (await alertsOnly.next()).id], [southCritical.id, last.id])
  t.equal(alertsOnly.pending + chatOnly.pending + critical.records.length + southWarningUp.records.length, 0, 'and nothing else')
})

t.test('invalid filters and since are refused before the stream or the upgrade starts, naming the parameter', async (t) => {
  const { url, wsUrl } = await listen(t)
  const cases: Array<[string, RegExp]> = [
    ['types=alert,nope', /querystring\/types must be a comma list of alert, chat, alert_update; got "nope"/],
    ['types=,', /querystring\/types must list at least one value/],
    ['severity=fatal', /querystring\/severity/],
    ['min_severity=huge', /querystring\/min_severity must be one of info, warning, critical/],
    ['location=,,', /querystring\/location must list at least one value/],
    ['since=10', /querystring\/since must be an event id, "all", a duration/],
    ['since=5y', /querystring\/since must be/],
    ['since=2026-02-30T00:00:00', /querystring\/since looks like a date but is not an ISO 8601 date-time with a time zone/],
    ['since=2026-13-01T00:00:00Z', /querystring\/since looks like a date/],
    ['since=2026-01-01', /querystring\/since looks like a date/],
    [`since=${'x'.repeat(101)}`, /querystring\/since must be at most 100 characters/],
    ['since=', /querystring\/since must not be empty/],
    [`tag=${'t,'.repeat(1001)}`, /querystring\/tag must be at most 2000 characters/],
    [`min_severity=${'w'.repeat(21)}`, /querystring\/min_severity must be at most 20 characters/]
  ]
  for (const [query, message] of cases) {
    const res = await fetchText(`${url}/events?${query}`)
    t.equal(res.status, 400, `/events?${query.slice(0, 40)}`)
    const body = JSON.parse(res.text)
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
    t.match(body.message, message)
    const refused = await refusedUpgrade(`${wsUrl}/ws?${query}`)
    t.equal(refused.status, 400, `/ws?${query.slice(0, 40)}`)
    t.match(refused.body.message, message)
  }
  for (const query of ['format=xml', 'poll=2', 'format=', 'poll=yes']) {
    const res = await fetchText(`${url}/events?${query}`)
    t.equal(res.status, 400, query)
    t.match(JSON.parse(res.text), { code: 'VALIDATION_FAILED' })
  }
  const hostile = await fetchText(`${url}/events?types=${encodeURIComponent('<script>alert(1)</script>')}&since=%00`)
  t.equal(hostile.status, 400)
  t.match(hostile.headers.get('content-type'), /application\/json/)
})

t.test('the token: Authorization or ?token= (EventSource sets no headers); origin checked as for /ws', async (t) => {
  const { fastify, url } = await listen(t, { API_TOKEN: 'secret', CORS_ORIGINS_ALLOWED: 'https://ok.example' })
  t.match(JSON.parse((await fetchText(`${url}/events?poll=1`)).text), { statusCode: 401, code: 'TOKEN_REQUIRED' })
  t.match(JSON.parse((await fetchText(`${url}/events?poll=1&token=wrong`)).text), { statusCode: 401, code: 'TOKEN_INVALID' })
  t.equal((await fetchText(`${url}/events?poll=1&token=secret`)).status, 200)
  t.equal((await fetchText(`${url}/events?poll=1`, { authorization: 'Bearer secret' })).status, 200)
  t.equal((await fetchText(`${url}/alerts/history?token=secret`)).status, 401, 'other routes still take the header only')
  const foreign = await fetchText(`${url}/events?token=secret`, { origin: 'https://evil.example' })
  t.equal(foreign.status, 403)
  t.match(JSON.parse(foreign.text), { code: 'ORIGIN_NOT_ALLOWED' })
  const listed = await StreamClient.open(`${url}/events?token=secret`, t, { origin: 'https://ok.example' })
  t.equal(listed.status, 200)
  t.equal(listed.response.headers['access-control-allow-origin'], 'https://ok.example', 'CORS headers go out with the stream')
  await waitFor(() => fastify.fanout.size === 1)
})

t.test('connection caps count WebSockets and streams together', async (t) => {
  const { fastify, url, wsUrl } = await listen(t, { WS_MAX_CONNECTIONS: 2 })
  await Client.open(`${wsUrl}/ws`, t)
  const stream = await StreamClient.open(`${url}/events`, t)
  await waitFor(() => fastify.fanout.size === 2)
  const refused = await fetchText(`${url}/events`)
  t.equal(refused.status, 503)
  t.match(JSON.parse(refused.text), { code: 'CONNECTION_LIMIT' })
  t.equal((await refusedUpgrade(`${wsUrl}/ws`)).status, 503)
  stream.close()
  await waitFor(() => fastify.fanout.size === 1)
  const again = await StreamClient.open(`${url}/events`, t)
  t.equal(again.status, 200, 'a closed stream frees its place')
})

t.test('per address too; a stream that ends frees its place even when its connection is kept alive', async (t) => {
  const { fastify, url, wsUrl } = await listen(t, { WS_MAX_CONNECTIONS_PER_ADDRESS: 2 })
  await Client.open(`${wsUrl}/ws`, t)
  const stream = await StreamClient.open(`${url}/events`, t)
  const refused = await fetchText(`${url}/events`)
  t.equal(refused.status, 429)
  t.match(JSON.parse(refused.text), { code: 'ADDRESS_CONNECTION_LIMIT', message: /WebSocket connections and event streams/ })
  t.equal((await refusedUpgrade(`${wsUrl}/ws`)).status, 429)
  // A poll counts while it runs and then lets go.
  stream.close()
  await waitFor(() => fastify.fanout.size === 1)
  t.equal((await fetchText(`${url}/events?poll=1`)).status, 200)
  t.equal((await fetchText(`${url}/events?poll=1`)).status, 200, 'polls one after another never pile up')
})

t.test('a reader that stops reading is cut at WS_MAX_BUFFERED_BYTES; the others get everything, in order', async (t) => {
  const { fastify, url } = await listen(t, { WS_MAX_BUFFERED_BYTES: 64 * 1024, HISTORY_SIZE: 5, REPLAY_WINDOW: 5 })
  const port = new URL(url).port
  // A raw socket that sends the request and never reads the answer.
  const slow = connect(Number(port), '127.0.0.1')
  t.teardown(() => slow.destroy())
  slow.on('error', () => {})
  await once(slow, 'connect')
  slow.write('GET /events?format=ndjson HTTP/1.1\r\nHost: x\r\n\r\n')
  slow.pause()
  const good = await StreamClient.open(`${url}/events?format=ndjson`, t)
  await waitFor(() => fastify.fanout.count('ndjson') === 2)
  const drops: string[] = []
  fastify.fanout.onDrop((reason) => drops.push(reason))

  const sent = await publishWhile(fastify, () => fastify.fanout.size === 2)
  t.equal(fastify.fanout.size, 1, 'the slow reader left the set')
  t.same(drops, ['slow'])
  const got: unknown[] = []
  while (got.length < sent.length) got.push((await good.next()).data.id)
  t.same(got, sent, `the reading client got all ${sent.length} events in order`)
  const metrics = (await fastify.inject('/metrics')).body
  t.match(metrics, /alert_server_clients_dropped_total\{reason="slow"\} 1/)
  slow.resume()
  await once(slow, 'close')
  t.pass('the slow reader\'s response ended')
})

t.test('/metrics counts subscribers by transport', async (t) => {
  const { fastify, url, wsUrl } = await listen(t)
  await Client.open(`${wsUrl}/ws`, t)
  await StreamClient.open(`${url}/events`, t)
  await StreamClient.open(`${url}/events`, t)
  await StreamClient.open(`${url}/events?format=ndjson`, t)
  await waitFor(() => fastify.fanout.size === 4)
  const body = (await fastify.inject('/metrics')).body
  t.match(body, /alert_server_subscribers\{transport="websocket"\} 1\n/)
  t.match(body, /alert_server_subscribers\{transport="sse"\} 2\n/)
  t.match(body, /alert_server_subscribers\{transport="ndjson"\} 1\n/)
  t.match(body, /alert_server_websocket_connections 1\n/, 'the WebSocket gauge keeps counting WebSockets only')
})

t.test('at shutdown every stream ends (EventSource then reconnects with Last-Event-ID)', async (t) => {
  const { fastify, url, wsUrl } = await listen(t)
  const sse = await StreamClient.open(`${url}/events`, t)
  const ndjson = await StreamClient.open(`${url}/events?format=ndjson`, t)
  const ws = await Client.open(`${wsUrl}/ws`, t)
  await waitFor(() => fastify.fanout.size === 3)
  const closing = fastify.close()
  await Promise.all([sse.ended, ndjson.ended])
  t.equal((await ws.closed).code, 1001)
  await closing
  t.ok(sse.response.complete, 'the SSE response ended cleanly, not cut')
  t.ok(ndjson.response.complete, 'so did the NDJSON one')
})

t.test('GET /alerts takes min_severity and since in every form', async (t) => {
  const { clock, timers } = mockTimers()
  const fastify = await build(t, {}, { timers })
  const old = await alert(fastify, { severity: 'critical', message: 'old' })
  clock.advance(30 * 60_000)
  const info = await alert(fastify, { severity: 'info', message: 'info' })
  const warning = await alert(fastify, { severity: 'warning', message: 'warning' })
  clock.advance(30 * 60_000)
  const ack = (await fastify.inject({ method: 'POST', url: `/alerts/${old.id as string}/ack` })).json()
  const board = async (query: string): Promise<Body> => (await fastify.inject(`/alerts?${query}`)).json()
  const ids = (b: Body): unknown[] => (b.alerts as Body[]).map((a) => a.message)
  t.same(ids(await board('min_severity=warning')), ['warning', 'old'])
  t.same(ids(await board('min_severity=info')), ['warning', 'info', 'old'])
  t.same(ids(await board('min_severity=critical&severity=critical,info')), ['old'])
  t.same(ids(await board('since=10m')), ['old'], 'changed in the last ten minutes: the acknowledgement')
  t.same(ids(await board('since=29m')), ['old'])
  t.same(ids(await board('since=31m')), ['warning', 'info', 'old'])
  t.same(ids(await board('since=2h')), ['warning', 'info', 'old'])
  t.same(ids(await board(`since=${info.id as string}`)), ['warning', 'old'], 'after an event: the alerts later events raised or changed')
  t.same(ids(await board(`since=${encodeURIComponent(warning.timestamp as string)}`)), ['old'])
  t.same(ids(await board('since=all')), ['warning', 'info', 'old'])
  t.equal(ack.state, 'acknowledged')
  const gap = await board('since=00000000-0000-4000-8000-000000000000')
  t.equal(gap.gap, true)
  t.equal(gap.count, 3)
  t.notOk('gap' in await board('since=all'), 'no gap field otherwise')
  for (const query of ['since=7', 'since=2026-01-01T25:00:00Z', 'min_severity=loud', `since=${'x'.repeat(101)}`]) {
    const res = await fastify.inject(`/alerts?${query}`)
    t.equal(res.statusCode, 400, query)
  }
})
