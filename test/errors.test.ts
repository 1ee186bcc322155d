import t from 'tap'
import { buildLogged } from './helpers/app'
import { SLOW_REQUEST_MS } from '../app'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'

t.test('a 5xx is logged with its request id and details, and the client sees none of them', async (t) => {
  const { fastify, lines } = await buildLogged(t, {}, (app) => {
    app.get('/boom', async () => { throw new Error('database password is hunter2') })
  })
  const res = await fastify.inject('/boom')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, code: 'INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal Server Error' })
  t.notMatch(res.body, /hunter2/)
  const logged = lines.find((l) => l.msg === 'request failed')
  t.match(logged, { level: 50, reqId: /^req-/, err: { message: 'database password is hunter2' } })
})

t.test('4xx messages are shown as they are', async (t) => {
  const { fastify } = await buildLogged(t)
  const res = await fastify.inject({ method: 'POST', url: '/alerts', payload: { message: 'm' } })
  t.same(res.json(), { statusCode: 400, code: 'VALIDATION_FAILED', error: 'Bad Request', message: 'body/location is required' })
})

t.test('an error with an odd status is reported as a 500', async (t) => {
  const { fastify } = await buildLogged(t, {}, (app) => {
    app.get('/odd', async () => { throw Object.assign(new Error('odd'), { statusCode: 302 }) })
  })
  const res = await fastify.inject('/odd')
  t.equal(res.statusCode, 500)
  t.equal(res.json().message, 'Internal Server Error')
})

t.test('every WebSocket connect and disconnect is logged, with the close code', async (t) => {
  const { fastify, lines } = await buildLogged(t)
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const client = await Client.open(`ws://127.0.0.1:${port}/ws?since=all`, t)
  client.socket.close(1000, 'bye')
  await client.closed
  await waitFor(() => lines.some((l) => l.msg === 'websocket disconnected'))
  t.match(lines.find((l) => l.msg === 'websocket connected'), { reqId: /^req-/, since: 'all', clients: 1 })
  t.match(lines.find((l) => l.msg === 'websocket disconnected'), { reqId: /^req-/, code: 1000, reason: 'bye' })
})

t.test('an error on an open WebSocket is logged and that connection is cut', async (t) => {
  const { fastify, lines } = await buildLogged(t)
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const client = await Client.open(`ws://127.0.0.1:${port}/ws`, t)
  const [server] = [...fastify.websocketServer.clients]
  server?.emit('error', new Error('socket blew up'))
  t.equal((await client.closed).code, 1006)
  t.match(lines.find((l) => l.msg === 'websocket error'), { level: 40, reqId: /^req-/, err: { message: 'socket blew up' } })
})

t.test('what the router refuses before any route (broken percent-encoding, an over-long path segment) has the error shape and the security headers', async (t) => {
  const { fastify } = await buildLogged(t)
  const cases: Array<[string, string, number, string]> = [
    ['POST', '/alerts/%E0%A4%A/ack', 400, 'BAD_REQUEST'],
    ['GET', '/%ZZ', 400, 'BAD_REQUEST'],
    ['DELETE', `/heartbeats/${'a'.repeat(600)}`, 404, 'NOT_FOUND']
  ]
  for (const [method, url, status, code] of cases) {
    const res = await fastify.inject({ method: method as 'GET', url })
    t.equal(res.statusCode, status, `${method} ${url.slice(0, 30)}`)
    t.match(res.json(), { statusCode: status, code, error: status === 400 ? 'Bad Request' : 'Not Found', message: /\S/ })
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.match(res.headers['content-security-policy'], /default-src 'self'/)
  }
})

t.test('a refused JSON body says why: where the syntax breaks, or the key that could poison prototypes; never a quote of the body', async (t) => {
  const { fastify } = await buildLogged(t)
  const cases: Array<[string, RegExp]> = [
    ['{"message":"m",', /^Body is not valid JSON: .*position 15/],
    ['{"message":"m"}x', /^Body is not valid JSON: .*position 15/],
    [`x${'secret'.repeat(20)}`, /^Body is not valid JSON: Unexpected token 'x'$/],
    ['secret', /^Body is not valid JSON: Unexpected token 's'$/],
    ['{"message":"m","location":"l","__proto__":{"severity":"critical"}}', /^Body has a "__proto__" or "constructor": \{"prototype": …\} key, which is refused$/],
    ['{"constructor":{"prototype":{"x":1}}}', /"__proto__" or "constructor"/],
    ['', /^Body cannot be empty/]
  ]
  for (const [body, message] of cases) {
    const res = await fastify.inject({ method: 'POST', url: '/alerts', headers: { 'content-type': 'application/json' }, body })
    t.equal(res.statusCode, 400, body.slice(0, 30))
    t.match(res.json(), { code: 'INVALID_JSON', message }, body.slice(0, 30))
    t.notMatch(res.json().message, /secret/, 'the body is not echoed')
  }
  t.equal((await fastify.inject('/alerts/history')).json().count, 0, 'nothing stored')
})

t.test('a successful request is logged at debug; a refused, failed or slow one at info or above', async (t) => {
  const { fastify, lines } = await buildLogged(t, { LOG_LEVEL: 'debug' }, (app) => {
    app.get('/boom', async () => { throw new Error('boom') })
    // Slow for real: the request's own elapsed time is what the log reads.
    app.get('/slow', async () => await new Promise<string>((resolve) => setTimeout(() => resolve('done'), SLOW_REQUEST_MS + 50)))
  })
  await fastify.inject('/alerts/history')
  await fastify.inject({ method: 'POST', url: '/alerts', payload: { message: 'm' } })
  await fastify.inject('/boom')
  await fastify.inject('/slow')
  const completed = lines.filter((l) => l.msg === 'request completed').map((l) => [(l.res as { statusCode: number }).statusCode, l.level, (l.responseTime as number) >= SLOW_REQUEST_MS])
  t.same(completed, [[200, 20, false], [400, 30, false], [500, 30, false], [200, 30, true]])
  t.same(lines.filter((l) => l.msg === 'incoming request').map((l) => l.level), [20, 20, 20, 20])
})
