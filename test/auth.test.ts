import t from 'tap'
import { build, buildLogged } from './helpers/app'
import { Client, refusedUpgrade } from './helpers/ws-client'
import { presentedToken } from '../plugins/app/auth'
import { redactToken } from '../app'
import { postAlert } from './helpers/http'

const TOKEN = 's3cret-token-0123456789abcdef'
const bearer = { authorization: `Bearer ${TOKEN}` }

t.test('without API_TOKEN everything is open, as before', async (t) => {
  const app = await build(t)
  t.equal((await postAlert(app)).statusCode, 200)
  t.equal((await app.inject('/alerts/history')).statusCode, 200)
})

t.test('with API_TOKEN every API route needs the bearer token', async (t) => {
  const app = await build(t, { API_TOKEN: TOKEN })
  const calls = [
    { method: 'POST' as const, url: '/alerts', payload: { message: 'm', location: 'l' } },
    { method: 'GET' as const, url: '/alerts/history' },
    { method: 'POST' as const, url: '/message', payload: { sender: 's', message: 'm' } },
    { method: 'GET' as const, url: '/message/' }
  ]
  for (const call of calls) {
    const missing = await app.inject(call)
    t.equal(missing.statusCode, 401, `${call.method} ${call.url} without a token`)
    t.same(missing.json(), { statusCode: 401, code: 'TOKEN_REQUIRED', error: 'Unauthorized', message: 'a token is required: send Authorization: Bearer <token>' })
    t.equal(missing.headers['www-authenticate'], 'Bearer')
    for (const authorization of ['Bearer wrong', `Bearer ${TOKEN}x`]) {
      const wrong = await app.inject({ ...call, headers: { authorization } })
      t.equal(wrong.statusCode, 401, `${call.url} with "${authorization}"`)
      t.match(wrong.json().message, /token is not valid/)
    }
    // The token without its scheme, another scheme, the scheme alone: say how to send it.
    for (const authorization of [TOKEN, 'Basic abc', 'Bearer ']) {
      const unsent = await app.inject({ ...call, headers: { authorization } })
      t.equal(unsent.statusCode, 401, `${call.url} with "${authorization}"`)
      t.match(unsent.json(), { code: 'TOKEN_INVALID', message: 'the Authorization header holds no bearer token: use Authorization: Bearer <token>' })
    }
    const right = await app.inject({ ...call, headers: bearer })
    t.equal(right.statusCode, 200, `${call.method} ${call.url} with the token`)
  }
  t.equal((await app.inject({ url: '/alerts/history', headers: bearer })).json().count, 1, 'only the authorised POST was stored')
  t.equal((await app.inject({ url: '/alerts?token=' + TOKEN, method: 'POST', payload: { message: 'm', location: 'l' } })).statusCode, 401,
    '?token= is for WebSocket upgrades only')
})

t.test('health, readiness, docs, the AsyncAPI document and the dashboard stay open', async (t) => {
  const app = await build(t, { API_TOKEN: TOKEN })
  for (const url of ['/health', '/ready', '/docs/json', '/docs/', '/asyncapi.json', '/', '/app.js']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, url)
  }
})

t.test('the WebSocket needs the token as a header or ?token=, refused with 401 before the upgrade', async (t) => {
  const app = await build(t, { API_TOKEN: TOKEN })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const url = `ws://127.0.0.1:${port}/ws`

  const missing = await refusedUpgrade(url)
  t.equal(missing.status, 401)
  t.match(missing.body, { statusCode: 401, error: 'Unauthorized', message: /\?token=/ })
  t.equal((await refusedUpgrade(`${url}?token=nope`)).status, 401)
  t.equal((await refusedUpgrade(url, { headers: { authorization: 'Bearer nope' } })).status, 401)
  const twice = await refusedUpgrade(`${url}?token=${TOKEN}&token=${TOKEN}`)
  t.same([twice.status, twice.body.message], [400, 'querystring/token is given 2 times; give it once'], 'a token given twice is said so, not "a token is required"')
  const stream = await app.inject({ url: `/events?poll=1&token=${TOKEN}&token=x` })
  t.same([stream.statusCode, stream.json().message], [400, 'querystring/token is given 2 times; give it once'], 'on /events too')

  const byHeader = await Client.open(url, t, { headers: bearer })
  const byQuery = await Client.open(`${url}?token=${TOKEN}&since=all`, t)
  byHeader.send({ sender: 's', message: 'hello' })
  t.match(await byHeader.next(), { type: 'chat', message: 'hello' })
  t.match(await byQuery.next(), { type: 'chat', message: 'hello' })
})

t.test('tokens never reach the logs', async (t) => {
  const { fastify, text } = await buildLogged(t, { API_TOKEN: TOKEN, LOG_LEVEL: 'debug' })
  await fastify.inject({ url: '/alerts/history', headers: bearer })
  await fastify.inject({ url: `/alerts/history?token=${TOKEN}` })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const client = await Client.open(`ws://127.0.0.1:${port}/ws?token=${TOKEN}`, t)
  client.socket.close()
  await client.closed
  t.match(text(), /token=\[redacted\]/, 'the query parameter is shown redacted')
  t.notMatch(text(), new RegExp(TOKEN), 'the token itself appears nowhere')
})

t.test('the OpenAPI document declares the bearer scheme, required when API_TOKEN is set', async (t) => {
  const open = (await (await build(t)).inject('/docs/json')).json()
  t.same(open.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: open.components.securitySchemes.bearerAuth.description })
  t.same(open.security, [])
  const closed = (await (await build(t, { API_TOKEN: TOKEN })).inject('/docs/json')).json()
  t.same(closed.security, [{ bearerAuth: [] }])
  t.same(closed.paths['/health'].get.security, [], 'open routes say so')
})

t.test('token helpers', async (t) => {
  t.equal(redactToken('/ws?since=all&token=abc&x=1'), '/ws?since=all&token=[redacted]&x=1')
  t.equal(redactToken('/ws?TOKEN=abc'), '/ws?TOKEN=[redacted]')
  const req = (headers: Record<string, string>, ws = false, query = {}) => ({ headers, ws, query }) as unknown as Parameters<typeof presentedToken>[0]
  t.equal(presentedToken(req({ authorization: 'Bearer  abc ' })), 'abc')
  t.equal(presentedToken(req({ authorization: 'bearer abc' })), 'abc')
  t.equal(presentedToken(req({ authorization: 'Token abc' })), '')
  t.equal(presentedToken(req({}, true, { token: 'q' })), 'q')
  t.equal(presentedToken(req({}, false, { token: 'q' })), undefined)
  const stream = { headers: {}, ws: false, query: { token: 'q' }, routeOptions: { config: { queryToken: true } } } as unknown as Parameters<typeof presentedToken>[0]
  t.equal(presentedToken(stream), 'q', 'a route that declares queryToken (an EventSource stream) reads ?token= too')
})
