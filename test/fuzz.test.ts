import t from 'tap'
import fc from 'fast-check'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'

// Property-based: random and adversarial input never gets a 5xx, never
// crashes the server, and is stored exactly when it is valid.

const SIZE = 100_000
// Text the server takes: well-formed (no lone surrogate), with a character that
// is not whitespace, control or zero-width, at most `max` code points.
const nonBlank = (v: unknown, max: number): boolean => typeof v === 'string' && [...v].length <= max &&
  !/\p{Cs}/u.test(v) && /[^\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/u.test(v)
const validAlert = (b: unknown): boolean => typeof b === 'object' && b !== null && !Array.isArray(b) &&
  nonBlank((b as Record<string, unknown>).message, 1000) && nonBlank((b as Record<string, unknown>).location, 200)
const validChat = (b: unknown): boolean => typeof b === 'object' && b !== null && !Array.isArray(b) &&
  nonBlank((b as Record<string, unknown>).sender, 200) && nonBlank((b as Record<string, unknown>).message, 1000)
// A body with a "__proto__" key, or a "constructor" key holding an object with a
// "prototype" key, at any depth, is refused whatever else it holds (the JSON
// parser's prototype-poisoning guard). JSON.parse keeps such keys as own properties.
const poisoned = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null) return false
  if (Object.hasOwn(v, '__proto__')) return true
  const ctor = (v as Record<string, unknown>).constructor
  if (Object.hasOwn(v, 'constructor') && typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) return true
  return Object.values(v).some(poisoned)
}

// Field values of every kind, biased towards the edges of what is valid.
const field = fc.oneof(
  fc.string({ maxLength: 5 }),
  fc.string({ minLength: 195, maxLength: 205 }),
  fc.string({ minLength: 995, maxLength: 1005 }),
  fc.constantFrom('', ' ', '\t\n', '\u00a0', '<img src=x onerror=alert(1)>', '\u0000', '💥'.repeat(300), 'x'.repeat(70_000)),
  fc.anything()
)
const body = fc.oneof(
  fc.record({ message: field, location: field, sender: field }, { requiredKeys: [] }),
  fc.record({ message: field, location: field, id: fc.anything(), type: fc.anything(), timestamp: fc.anything(), __proto__: fc.anything() }, { requiredKeys: [] }),
  fc.jsonValue(),
  fc.anything()
)

t.test('POST /alerts and /message: stored exactly when valid, never 5xx', async (t) => {
  const app = await build(t, { HISTORY_SIZE: SIZE, REPLAY_WINDOW: SIZE })
  let alerts = 0
  let chats = 0
  await fc.assert(fc.asyncProperty(fc.constantFrom('/alerts', '/message'), body, async (url, payload) => {
    let text: string | undefined
    try { text = JSON.stringify(payload) } catch { text = undefined }
    const res = await app.inject({ method: 'POST', url, payload: text ?? '{', headers: { 'content-type': 'application/json' } })
    if (res.statusCode >= 500) return false
    // The oracle judges what went over the wire, not the generated value.
    const wire: unknown = text === undefined ? undefined : JSON.parse(text)
    const fits = text !== undefined && Buffer.byteLength(text) <= 64 * 1024
    const valid = fits && !poisoned(wire) && (url === '/alerts' ? validAlert(wire) : validChat(wire))
    if (valid !== (res.statusCode === 200)) return false
    if (res.statusCode === 200) {
      if (url === '/alerts') alerts++
      else chats++
    } else if (Object.keys(res.json()).sort().join() !== 'code,error,message,statusCode') return false
    return true
  }), {
    numRuns: 400,
    // Found by a run: a valid chat whose unused field holds a "__proto__" key is refused.
    examples: [
      ['/message', { message: '<img src=x onerror=alert(1)>', location: JSON.parse('{"__proto__":false}'), sender: '!' }],
      ['/alerts', JSON.parse('{"message":"m","location":"l","extra":{"constructor":{"prototype":1}}}')],
      ['/alerts', JSON.parse('{"message":"m","location":"l","extra":{"constructor":1}}')]
    ]
  })
  t.equal((await app.inject('/alerts/history')).json().count, alerts)
  t.equal((await app.inject('/message')).json().count, chats)
  t.pass(`${alerts} alerts and ${chats} chats accepted`)
})

t.test('random methods, paths, query strings, headers and raw bodies: never 5xx', async (t) => {
  const app = await build(t, { HISTORY_SIZE: SIZE, REPLAY_WINDOW: SIZE })
  const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/)
  const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/)
  await fc.assert(fc.asyncProperty(
    fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    fc.constantFrom('/alerts', '/alerts/', '/alerts/history', '/message', '/message/', '/ws', '/docs/json', '/asyncapi.json', '/health', '/ready', '/metrics', '/nope', '/%zz', '/alerts/../message', '//alerts'),
    fc.array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 30 })), { maxLength: 4 }),
    fc.dictionary(token, headerValue, { maxKeys: 4 }),
    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', ';;;', 'application/json; charset=latin1'),
    fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a))),
    async (method, path, query, headers, contentType, raw) => {
      const qs = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
      const res = await app.inject({
        method,
        url: qs === '' ? path : `${path}?${qs}`,
        headers: { ...headers, 'content-type': contentType },
        payload: method === 'GET' || method === 'HEAD' ? undefined : raw
      })
      return res.statusCode < 500
    }), { numRuns: 400 })
  const ok = await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'still', location: 'here' } })
  t.equal(ok.statusCode, 200, 'still responsive')
})

t.test('every route of the OpenAPI document, with random JSON bodies and query strings: never 5xx', async (t) => {
  const app = await build(t, { HISTORY_SIZE: SIZE, REPLAY_WINDOW: SIZE })
  const doc = (await app.inject('/docs/json')).json() as { paths: Record<string, Record<string, unknown>> }
  const known = (await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'known', location: 'here', key: 'k' } })).json().id as string
  // Each parameter: an existing alert's id, a UUID of nothing, a name, or something broken.
  const param = fc.constantFrom(known, '3f1c2a9e-1b7d-4c55-9a51-0c8e2d5b7f10', 'nightly', 'x'.repeat(120), '%zz', '..', 'ack', '0')
  const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).filter((m) => m !== 'parameters').map((method) => ({ method: method.toUpperCase() as 'GET', path })))
  t.ok(operations.length >= 30, `${operations.length} operations`)
  await fc.assert(fc.asyncProperty(
    fc.constantFrom(...operations), fc.array(param, { minLength: 3, maxLength: 3 }),
    fc.array(fc.tuple(fc.constantFrom('since', 'limit', 'cursor', 'state', 'severity', 'min_severity', 'key', 'tag', 'location', 'format', 'until', 'every', 'grace', 'schedule', 'tz', 'receiver', 'status', 'by', 'expires', 'sig', 'poll', 'x'), fc.string({ maxLength: 30 })), { maxLength: 3 }),
    body,
    async ({ method, path }, params, query, payload) => {
      let i = 0
      const url = path.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i++ % params.length] as string))
      // GET /events streams until the client goes: its poll form ends (streams.test.ts holds the stream to bad input).
      const qs = [...query, ...(path === '/events' ? [['poll', '1']] : [])].map(([k, v]) => `${k as string}=${encodeURIComponent(v as string)}`).join('&')
      let text: string | undefined
      try { text = JSON.stringify(payload) } catch { text = undefined }
      const res = await app.inject({
        method,
        url: qs === '' ? url : `${url}?${qs}`,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        payload: method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : text ?? '{'
      })
      if (res.statusCode >= 500) t.fail(`${method} ${url}?${qs} ${text ?? ''}: ${res.statusCode} ${res.body.slice(0, 300)}`)
      return res.statusCode < 500
    }), { numRuns: 600 })
  const ok = await app.inject({ method: 'POST', url: '/alerts', payload: { message: 'still', location: 'here' } })
  t.equal(ok.statusCode, 200, 'still responsive')
})

t.test('random WebSocket frames: errors for the bad, chat for the good, the socket stays open', async (t) => {
  const { fastify, wsUrl } = await listen(t, { HISTORY_SIZE: SIZE, REPLAY_WINDOW: SIZE, WS_CHAT_RATE: 1e6, WS_CHAT_BURST: 1e6, WS_MAX_INVALID_FRAMES: 1e6 })
  const client = await Client.open(`${wsUrl}/ws`, t)
  let chats = 0
  const frame = fc.oneof(
    body.map((b) => { try { return JSON.stringify(b) ?? 'undefined' } catch { return '{' } }),
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.constantFrom('{"type":"ping"}', '{"type":"alert","message":"m","location":"l"}', '{"type":"__proto__"}', '[]', 'null', '{"sender":"a","message":"b"}')
  )
  await fc.assert(fc.asyncProperty(frame, async (data) => {
    if (Buffer.byteLength(data) > 16 * 1024) return true
    client.socket.send(data)
    const reply = await client.next()
    if (reply.type === 'chat') chats++
    return ['chat', 'error', 'pong'].includes(reply.type as string) && client.socket.readyState === client.socket.OPEN
  }), { numRuns: 400 })
  t.equal((await fastify.inject('/message')).json().count, chats, 'stored exactly what was echoed as chat')
  const res = await fastify.inject({ method: 'POST', url: '/alerts', payload: { message: 'still', location: 'here' } })
  t.same(await client.next(), res.json(), 'still delivering')
})
