import t from 'tap'
import { connect } from 'node:net'
import { build, listen } from './helpers/app'
import { mockTimers } from './helpers/clock'
import { once, waitFor } from './helpers/wait'
import { Client, refusedUpgrade } from './helpers/ws-client'
import { tokenBucket } from '../plugins/core/token-bucket'
import { publishWhile } from './helpers/http'

t.test('a client that stops reading is closed with 1013; the others get everything, in order', async (t) => {
  const { fastify, wsUrl } = await listen(t, { WS_MAX_BUFFERED_BYTES: 64 * 1024, HISTORY_SIZE: 5, REPLAY_WINDOW: 5 })
  const slow = await Client.open(`${wsUrl}/ws`, t)
  const good = await Client.open(`${wsUrl}/ws`, t)
  const drops: string[] = []
  fastify.fanout.onDrop((reason) => drops.push(reason))
  slow.socket.pause()

  const sent = await publishWhile(fastify, () => fastify.fanout.size === 2)
  t.equal(fastify.fanout.size, 1, 'the slow client left the set')
  t.same(drops, ['slow'])
  // More events after the drop still reach the good client.
  for (let i = 0; i < 10; i++) sent.push((await fastify.publisher.publish({ type: 'alert', message: 'after the drop', location: `${sent.length}` })).id)

  const got: string[] = []
  while (got.length < sent.length) got.push((await good.next()).id as string)
  t.same(got, sent, `the reading client got all ${sent.length} events in order`)

  slow.socket.resume()
  const closed = await slow.closed
  t.equal(closed.code, 1013)
  t.match(closed.reason, /too slow/)
})

t.test('a frame over WS_MAX_PAYLOAD closes that connection with 1009; others are untouched', async (t) => {
  const { fastify, wsUrl } = await listen(t, { WS_MAX_PAYLOAD: 1024 })
  const big = await Client.open(`${wsUrl}/ws`, t)
  const other = await Client.open(`${wsUrl}/ws`, t)
  big.send({ sender: 's', message: 'x'.repeat(2000) })
  t.equal((await big.closed).code, 1009)
  other.send({ sender: 's', message: 'fine' })
  t.match(await other.next(), { type: 'chat', message: 'fine' })
  t.equal((await fastify.inject('/message')).json().count, 1, 'only the small one was stored')
})

t.test('the default frame limit is 16 KiB', async (t) => {
  const { wsUrl } = await listen(t)
  const ok = await Client.open(`${wsUrl}/ws`, t)
  ok.send('x'.repeat(16 * 1024 - 10))
  t.equal((await ok.next()).code, 'invalid_json', 'just under: read and refused as JSON')
  ok.send('x'.repeat(16 * 1024 + 1))
  t.equal((await ok.closed).code, 1009)
})

/** How many of the next `n` frames are of each type. */
async function types (client: Client, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const { type } = await client.next<{ type: string }>()
    out[type] = (out[type] ?? 0) + 1
  }
  return out
}

t.test('chat over the rate gets rate_limited and is neither stored nor sent; the allowance refills with time', async (t) => {
  // The clock moves only when the test says: exactly the burst passes at first.
  const { clock, timers } = mockTimers()
  const { fastify, wsUrl } = await listen(t, { WS_CHAT_RATE: 5, WS_CHAT_BURST: 10 }, { timers })
  const a = await Client.open(`${wsUrl}/ws`, t)
  const b = await Client.open(`${wsUrl}/ws`, t)
  for (let i = 0; i < 15; i++) a.send({ sender: 's', message: `m${i}` })
  const frames = []
  for (let i = 0; i < 15; i++) frames.push(await a.next())
  const chats = frames.filter((f) => f.type === 'chat')
  const limited = frames.filter((f) => f.type === 'error')
  t.equal(chats.length, 10)
  t.equal(limited.length, 5)
  t.match(limited[0], { type: 'error', code: 'rate_limited', message: /5 chat messages a second \(burst 10\)/ })
  t.equal((await fastify.inject('/message')).json().count, 10)
  for (let i = 0; i < 10; i++) t.equal((await b.next()).type, 'chat')
  t.equal(b.pending, 0, 'the refused ones reached nobody')
  // Another connection has its own allowance.
  b.send({ sender: 's', message: 'from b' })
  t.match(await b.next(), { type: 'chat', message: 'from b' })
  await a.next()

  // 5 a second: after 200 ms one more message passes, and only one. (A
  // refusal is answered at once, ahead of chat still being published.)
  clock.advance(199)
  a.send({ sender: 's', message: 'too early' })
  t.match(await a.next(), { type: 'error', code: 'rate_limited' })
  clock.advance(1)
  a.send({ sender: 's', message: 'refilled' })
  a.send({ sender: 's', message: 'one too many' })
  t.same(await types(a, 2), { chat: 1, error: 1 })
  // A long quiet spell saves up no more than the burst.
  clock.advance(3600_000)
  for (let i = 0; i < 11; i++) a.send({ sender: 's', message: `after ${i}` })
  t.same(await types(a, 11), { chat: 10, error: 1 })
})

t.test('the chat rate defaults to 5 a second with a burst of 10', async (t) => {
  const app = await build(t)
  t.equal(app.config.WS_CHAT_RATE, 5)
  t.equal(app.config.WS_CHAT_BURST, 10)
})

t.test('tokenBucket refills at the rate, up to the burst', async (t) => {
  let now = 0
  const allow = tokenBucket(5, 10, () => now)
  for (let i = 0; i < 10; i++) t.ok(allow())
  t.notOk(allow())
  now += 200 // one token
  t.ok(allow())
  t.notOk(allow())
  now += 60_000 // capped at the burst
  let n = 0
  while (allow()) n++
  t.equal(n, 10)
  now -= 60_000 // a clock stepping back refills nothing, and takes nothing away
  t.notOk(allow())
  now += 200
  t.ok(allow())
})

t.test('the server closes the connection of a refused upgrade itself', async (t) => {
  const { wsUrl } = await listen(t, { CORS_ORIGINS_ALLOWED: 'http://dash.example' })
  const { port } = new URL(wsUrl)
  const socket = connect(Number(port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  let response = ''
  socket.on('data', (c: Buffer) => { response += c.toString() })
  socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://evil.example\r\n\r\n')
  // The client never closes: only the server can end this.
  await once(socket, 'close')
  t.match(response, /^HTTP\/1\.1 403/)
})

t.test('with CORS_ORIGINS_ALLOWED=* any origin may connect', async (t) => {
  const { wsUrl } = await listen(t, { CORS_ORIGINS_ALLOWED: '*' })
  await Client.open(`${wsUrl}/ws`, t, { origin: 'http://anywhere.example' })
  t.pass()
})

t.test('past WS_MAX_CONNECTIONS the next upgrade gets 503; a freed place can be taken again', async (t) => {
  const { fastify, wsUrl } = await listen(t, { WS_MAX_CONNECTIONS: 2 })
  const a = await Client.open(`${wsUrl}/ws`, t)
  await Client.open(`${wsUrl}/ws`, t)
  const refused = await refusedUpgrade(`${wsUrl}/ws`)
  t.equal(refused.status, 503)
  t.match(refused.body, { statusCode: 503, message: /connection limit \(2\)/ })
  a.socket.close()
  await waitFor(() => fastify.fanout.size === 1)
  await Client.open(`${wsUrl}/ws`, t)
  t.equal(fastify.fanout.size, 2)
  const app = await build(t)
  t.equal(app.config.WS_MAX_CONNECTIONS, 10000, 'default')
})
