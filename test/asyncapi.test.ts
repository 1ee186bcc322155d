import t from 'tap'
import Ajv from 'ajv'
import { build, listen } from './helpers/app'
import { Client } from './helpers/ws-client'
import { wsMessages } from '../routes/asyncapi'
import { postAlert } from './helpers/http'

const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x))

t.test('GET /asyncapi.json is an AsyncAPI 3.0 document of /ws built from the schemas in use', async (t) => {
  const app = await build(t)
  const res = await app.inject('/asyncapi.json')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  const doc = res.json()
  t.equal(doc.asyncapi, '3.0.0')
  t.equal(doc.channels.events.address, '/ws')
  t.same(Object.keys(doc.channels.events.bindings.ws.query.properties), ['since', 'types', 'severity', 'min_severity', 'location', 'key', 'tag', 'token'])
  t.equal(doc.channels.stream.address, '/events')
  t.same(Object.keys(doc.channels.stream.messages).sort(), ['alert', 'alert_update', 'chat', 'error', 'gap', 'keepalive'])

  const messages = doc.components.messages
  t.same(Object.keys(messages).sort(), ['alert', 'alert_update', 'chat', 'error', 'gap', 'keepalive', 'ping', 'pong', 'sendChat'])
  // The payloads are exactly the schemas the server validates and sends with.
  for (const [name, schema] of Object.entries(wsMessages.server)) t.same(messages[name].payload, plain(schema), name)
  t.same(messages.sendChat.payload, plain(wsMessages.client.chat))
  t.same(messages.ping.payload, plain(wsMessages.client.ping))

  const { streamEvents, ...wsOperations } = doc.operations as Record<string, { action: string, messages: Array<{ $ref: string }>, bindings?: { http: { query: { properties: object } } } }>
  t.same(streamEvents?.messages.map((m) => m.$ref.split('/').pop()).sort(), ['alert', 'alert_update', 'chat', 'error', 'gap', 'keepalive'])
  t.same(Object.keys(streamEvents?.bindings?.http.query.properties ?? {}), ['since', 'types', 'severity', 'min_severity', 'location', 'key', 'tag', 'token', 'format', 'poll'])
  const sends = Object.values(wsOperations)
  t.same(sends.filter((o) => o.action === 'send').map((o) => o.messages[0]?.$ref.split('/').pop()).sort(), ['alert', 'alert_update', 'chat', 'error', 'gap', 'pong'])
  t.same(sends.filter((o) => o.action === 'receive').map((o) => o.messages[0]?.$ref.split('/').pop()).sort(), ['ping', 'sendChat'])
  t.match(doc.info.description, /1013/)
})

t.test('every frame a live server sends validates against the document; its examples are accepted', async (t) => {
  const { fastify, wsUrl } = await listen(t, { HISTORY_SIZE: 2, REPLAY_WINDOW: 2 })
  const doc = (await fastify.inject('/asyncapi.json')).json()
  const ajv = new Ajv({ strict: false })
  const check = (name: string, frame: unknown): boolean => ajv.validate(doc.components.messages[name].payload, frame)

  await postAlert(fastify)
  const client = await Client.open(`${wsUrl}/ws?since=unknown`, t)
  const seen: Record<string, unknown> = {}
  const gap = await client.next()
  seen.gap = gap
  seen.alert = await client.next()
  client.send({ sender: 's', message: 'c' })
  seen.chat = await client.next()
  client.send('{broken')
  seen.error = await client.next()
  client.send({ type: 'ping' })
  seen.pong = await client.next()
  const alert = seen.alert as { id: string }
  await fastify.inject({ method: 'POST', url: `/alerts/${alert.id}/ack`, payload: { by: 'Ana', note: 'on it' } })
  seen.alert_update = await client.next()
  for (const [name, frame] of Object.entries(seen)) t.ok(check(name, frame), `${name} frame matches its schema`)
  t.notOk(check('alert', seen.chat), 'and the schemas tell frames apart')
})

t.test('the OpenAPI document links to the AsyncAPI document', async (t) => {
  const app = await build(t)
  const doc = (await app.inject('/docs/json')).json()
  t.equal(doc.externalDocs.url, '/asyncapi.json')
  t.match(doc.info.description, /asyncapi\.json/)
})

t.test('the AsyncAPI server follows DOMAIN', async (t) => {
  const app = await build(t, { DOMAIN: 'https://alerts.example.com' })
  t.match((await app.inject('/asyncapi.json')).json().servers.default, { host: 'alerts.example.com', protocol: 'wss', description: /^This server\./ })
})

t.test('the AsyncAPI document says how to send a token, what each scope allows and how a revoked token closes', async (t) => {
  const doc = (await (await build(t)).inject('/asyncapi.json')).json()
  t.same(doc.servers.default.security, [{ $ref: '#/components/securitySchemes/bearer' }, { $ref: '#/components/securitySchemes/queryToken' }])
  t.match(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: /subscribe to connect, publish to chat/ })
  t.match(doc.components.securitySchemes.queryToken, { type: 'httpApiKey', name: 'token', in: 'query' })
  t.match(doc.info.description, /1008 "token revoked" or "token expired"/)
  t.ok(doc.components.messages.error.payload.properties.code.enum.includes('forbidden'))
})
