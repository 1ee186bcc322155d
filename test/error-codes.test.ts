import t from 'tap'
import type { InjectOptions } from 'fastify'
import { build, buildLogged, listen, type Teardown } from './helpers/app'
import { exchange } from './helpers/raw'
import { BackendUnavailableError, OutcomeUnknownError } from '../plugins/core/errors'
import { ERROR_CODES } from '../schemas/errors'

const KEYS = ['code', 'error', 'message', 'statusCode']

async function port (t: Teardown, env = {}): Promise<number> {
  const { fastify } = await listen(t, env)
  return (fastify.server.address() as { port: number }).port
}

t.test('every error carries a code from the one list, beside statusCode, error and message', async (t) => {
  const app = await build(t, { API_TOKEN: 'secret' })
  const auth = { authorization: 'Bearer secret' }
  const cases: Array<[string, InjectOptions, number, string]> = [
    ['unknown route', { url: '/nope' }, 404, 'NOT_FOUND'],
    ['no token', { url: '/alerts/history' }, 401, 'TOKEN_REQUIRED'],
    ['wrong token', { url: '/alerts/history', headers: { authorization: 'Bearer nope' } }, 401, 'TOKEN_INVALID'],
    ['invalid body', { method: 'POST', url: '/alerts', headers: auth, payload: { message: 'm' } }, 400, 'VALIDATION_FAILED'],
    ['broken JSON', { method: 'POST', url: '/alerts', headers: { ...auth, 'content-type': 'application/json' }, payload: '{' }, 400, 'INVALID_JSON'],
    ['XML body', { method: 'POST', url: '/alerts', headers: { ...auth, 'content-type': 'application/xml' }, payload: '<x/>' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['large body', { method: 'POST', url: '/alerts', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(70_000) }) }, 413, 'BODY_TOO_LARGE'],
    ['plain GET /ws', { url: '/ws', headers: auth }, 426, 'UPGRADE_REQUIRED'],
    ['preflight without its headers', { method: 'OPTIONS', url: '/alerts' }, 400, 'INVALID_PREFLIGHT']
  ]
  const limited = await build(t, { RATE_LIMIT_MAX: 1 })
  await limited.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l' } })
  const tooMany = await limited.inject({ method: 'POST', url: '/alerts', payload: { message: 'm', location: 'l' } })
  t.match(tooMany.json(), { statusCode: 429, code: 'RATE_LIMITED' })
  for (const [name, request, status, code] of cases) {
    const res = await app.inject(request)
    t.equal(res.statusCode, status, name)
    t.same(Object.keys(res.json()).sort(), KEYS, name)
    t.match(res.json(), { statusCode: status, code }, name)
    t.ok(ERROR_CODES.includes(res.json().code), name)
  }
  const preflight = await app.inject({ method: 'OPTIONS', url: '/alerts', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } })
  t.equal(preflight.statusCode, 204, 'a valid preflight is still answered by @fastify/cors')
})

t.test('the backend\'s domain errors: unavailable is 503 with Retry-After, outcome unknown is 504', async (t) => {
  const { fastify, lines } = await buildLogged(t, {}, (app) => {
    app.get('/down', async () => { throw new BackendUnavailableError('Redis is unavailable') })
    app.get('/slow', async () => { throw new OutcomeUnknownError('Redis did not answer in time') })
  })
  const down = await fastify.inject('/down')
  t.equal(down.statusCode, 503)
  t.equal(down.headers['retry-after'], '5')
  t.same(down.json(), { statusCode: 503, code: 'BACKEND_UNAVAILABLE', error: 'Service Unavailable', message: 'Redis is unavailable; try again later' })
  const slow = await fastify.inject('/slow')
  t.equal(slow.statusCode, 504)
  t.equal(slow.headers['retry-after'], undefined, 'no invitation to retry blindly')
  t.match(slow.json(), { statusCode: 504, code: 'OUTCOME_UNKNOWN', error: 'Gateway Timeout', message: /may have been stored and sent/ })
  t.notOk(lines.some((l) => (l.level as number) >= 50), 'states of the backend, not faults: logged as warnings')
})

t.test('a CORS preflight refused over a real socket is JSON', async (t) => {
  const res = await exchange(t, await port(t), 'OPTIONS /alerts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
  t.equal(res.status, 400)
  t.match(res.headers['content-type'], /application\/json/)
  t.match(JSON.parse(res.body), { statusCode: 400, code: 'INVALID_PREFLIGHT', error: 'Bad Request', message: /Origin and Access-Control-Request-Method/ })
})

t.test('a broken WebSocket handshake is refused in the one JSON shape', async (t) => {
  const p = await port(t)
  const upgrade = 'GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n'
  const noKey = await exchange(t, p, `${upgrade}Sec-WebSocket-Version: 13\r\n\r\n`)
  t.equal(noKey.status, 400)
  t.match(noKey.headers['content-type'], /application\/json/)
  t.same(JSON.parse(noKey.body), { statusCode: 400, code: 'INVALID_WEBSOCKET_HANDSHAKE', error: 'Bad Request', message: 'Missing or invalid Sec-WebSocket-Key header' })
  const badVersion = await exchange(t, p, `${upgrade}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n\r\n`)
  t.equal(badVersion.status, 400)
  t.equal(badVersion.headers['sec-websocket-version'], '13, 8', 'tells the client which versions are spoken')
  t.match(JSON.parse(badVersion.body), { code: 'INVALID_WEBSOCKET_HANDSHAKE', message: /Sec-WebSocket-Version/ })
})

t.test('Node\'s own refusals (bad request line, headers too large) are JSON with a code', async (t) => {
  const p = await port(t)
  const garbage = await exchange(t, p, 'HELLO THERE\r\n\r\n')
  t.equal(garbage.status, 400)
  t.match(garbage.headers['content-type'], /application\/json/)
  t.same(JSON.parse(garbage.body), { statusCode: 400, code: 'BAD_REQUEST', error: 'Bad Request', message: 'the request is not valid HTTP' })
  const huge = await exchange(t, p, `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`)
  t.equal(huge.status, 431)
  t.same(JSON.parse(huge.body), { statusCode: 431, code: 'HEADERS_TOO_LARGE', error: 'Request Header Fields Too Large', message: 'the request headers are too large' })
})

t.test('the OpenAPI document gives each error status of a route its own example', async (t) => {
  const app = await build(t)
  const doc = (await app.inject('/docs/json')).json()
  const errorSchema = (status: string, path = '/alerts', method = 'post') => doc.paths[path][method].responses[status].content['application/json']
  // One example per code the status can carry, each with that status.
  const codes = (status: string, path = '/alerts', method = 'post'): string[] => {
    const media = errorSchema(status, path, method) as { example?: { statusCode: number, code: string }, examples?: Record<string, { value: { statusCode: number, code: string } }> }
    const examples = media.example !== undefined ? [media.example] : Object.values(media.examples ?? {}).map((e) => e.value)
    for (const example of examples) t.equal(example.statusCode, Number(status), `${path} ${status} ${example.code}`)
    return examples.map((e) => e.code)
  }
  t.same(codes('400'), ['VALIDATION_FAILED', 'INVALID_JSON', 'INVALID_UTF8'])
  t.same(codes('413'), ['BODY_TOO_LARGE'])
  t.same(codes('415'), ['UNSUPPORTED_MEDIA_TYPE', 'UNSUPPORTED_CHARSET'])
  t.same(codes('429'), ['RATE_LIMITED', 'AUTH_RATE_LIMITED'])
  t.same(codes('504'), ['OUTCOME_UNKNOWN'])
  t.same(codes('401', '/alerts/history', 'get'), ['TOKEN_REQUIRED', 'TOKEN_INVALID', 'TOKEN_EXPIRED'])
  t.same(codes('403', '/alerts/history', 'get'), ['SCOPE_MISSING'])
  t.same(codes('503', '/alerts/history', 'get'), ['OVERLOADED', 'BACKEND_UNAVAILABLE', 'STORAGE_UNAVAILABLE'])
  t.ok(errorSchema('400').schema.properties.code, 'the schema has the code')
  t.ok(errorSchema('400').schema.required.includes('code'))
})
