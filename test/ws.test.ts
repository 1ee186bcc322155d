import t from 'tap'
import { build, listen } from './helpers/app'
import { waitFor } from './helpers/wait'
import { Client } from './helpers/ws-client'
import { postAlert, postChat } from './helpers/http'

t.test('a POSTed alert reaches every client as the same object the POST returned', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  const b = await Client.open(`${wsUrl}/ws`, t)
  const res = await postAlert(fastify, { message: 'Intruder detected', location: 'North Gate' })
  const alert = res.json()
  t.same(await a.next(), alert)
  t.same(await b.next(), alert)
})

t.test('each event is one JSON text frame', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  const raw = new Promise<{ data: string, isBinary: boolean }>((resolve) => {
    a.socket.once('message', (data, isBinary) => resolve({ data: data.toString(), isBinary }))
  })
  const res = await postChat(fastify)
  const { data, isBinary } = await raw
  t.equal(isBinary, false)
  t.equal(data, res.body)
})

t.test('a chat frame is stamped, stored and sent to everyone, the sender included', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  const b = await Client.open(`${wsUrl}/ws`, t)
  a.send({ sender: 'Jose', message: 'Please check the back door', id: 'mine', type: 'chat', timestamp: 'then' })
  const fromA = await a.next()
  const fromB = await b.next()
  t.same(fromA, fromB)
  t.same(Object.keys(fromA), ['id', 'timestamp', 'type', 'sender', 'message'])
  t.match(fromA, { type: 'chat', sender: 'Jose', message: 'Please check the back door' })
  t.not(fromA.id, 'mine')
  t.not(fromA.timestamp, 'then')
  t.same((await fastify.inject('/message')).json(), { chatMessages: [fromA], count: 1 })
})

const badFrames: Array<[string, string, string, RegExp]> = [
  ['broken JSON', '{"sender": "a",', 'invalid_json', /not valid JSON.*expected \{"sender"/],
  ['plain text', 'hello', 'invalid_json', /not valid JSON/],
  ['empty frame', '', 'invalid_json', /not valid JSON/],
  ['a JSON string', '"hi"', 'invalid_message', /frame must be object/],
  ['a JSON number', '42', 'invalid_message', /frame must be object/],
  ['null', 'null', 'invalid_message', /frame must be object/],
  ['an array', '[{"sender":"a","message":"b"}]', 'invalid_message', /frame must be object/],
  ['missing sender', '{"message":"hi"}', 'invalid_message', /frame\/sender is required/],
  ['missing message', '{"sender":"a"}', 'invalid_message', /frame\/message is required/],
  ['number message', '{"sender":"a","message":5}', 'invalid_message', /frame\/message must be string/],
  ['blank sender', '{"sender":"   ","message":"hi"}', 'invalid_message', /frame\/sender must not be blank/],
  ['sender too long', JSON.stringify({ sender: 'x'.repeat(201), message: 'hi' }), 'invalid_message', /frame\/sender must be at most 200/],
  ['message too long', JSON.stringify({ sender: 'a', message: 'x'.repeat(1001) }), 'invalid_message', /frame\/message must be at most 1000/],
  ['an alert', '{"type":"alert","message":"m","location":"l"}', 'unknown_type', /unknown frame type "alert"/],
  ['an unknown type', '{"type":{"x":1}}', 'unknown_type', /unknown frame type/]
]

t.test('bad frames get an error frame, nothing is stored or sent, and the socket stays usable', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  const b = await Client.open(`${wsUrl}/ws`, t)
  for (const [name, frame, code, message] of badFrames) {
    a.send(frame)
    const reply = await a.next()
    t.same(Object.keys(reply).sort(), ['code', 'message', 'type'], name)
    t.equal(reply.type, 'error', name)
    t.equal(reply.code, code, name)
    t.match(reply.message, message, name)
  }
  t.equal(b.pending, 0, 'the other client saw none of it')
  t.same((await fastify.inject('/message')).json(), { chatMessages: [], count: 0 })

  // Still open and usable after all of that.
  a.send({ sender: 'a', message: 'still here' })
  t.match(await a.next(), { type: 'chat', message: 'still here' })
  t.match(await b.next(), { type: 'chat', message: 'still here' }, 'the first frame b sees is the good one')
})

t.test('a binary frame holding JSON chat is accepted like text', async (t) => {
  const { wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  a.socket.send(Buffer.from(JSON.stringify({ sender: 'a', message: 'bin' })), { binary: true })
  t.match(await a.next(), { type: 'chat', message: 'bin' })
})

t.test('a closed client leaves the set and does not stop delivery to others', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  const b = await Client.open(`${wsUrl}/ws`, t)
  t.equal(fastify.fanout.size, 2)
  a.socket.close()
  await waitFor(() => fastify.fanout.size === 1)
  await postAlert(fastify)
  t.match(await b.next(), { type: 'alert', message: 'm' })
})

t.test('closing the server closes every client with 1001', async (t) => {
  const { fastify, wsUrl } = await listen(t)
  const a = await Client.open(`${wsUrl}/ws`, t)
  const b = await Client.open(`${wsUrl}/ws`, t)
  await fastify.close()
  t.same(await a.closed, { code: 1001, reason: 'server shutting down' })
  t.same(await b.closed, { code: 1001, reason: 'server shutting down' })
})

t.test('a plain GET /ws without upgrade gets 426 in the JSON error shape', async (t) => {
  const app = await build(t)
  const res = await app.inject('/ws')
  t.equal(res.statusCode, 426)
  t.match(res.json(), { statusCode: 426, error: 'Upgrade Required' })
})
