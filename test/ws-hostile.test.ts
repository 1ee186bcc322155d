import t, { type Test } from 'tap'
import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import { buildLogged, listen } from './helpers/app'
import { post } from './helpers/http'
import { Client, refusedUpgrade } from './helpers/ws-client'
import { once, waitFor } from './helpers/wait'

// Hostile clients of /ws: floods of refused frames and frames built to blow
// the stack. Each must stay that client's problem.

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)

t.test('a flood of tiny junk frames gets the connection closed with 1008; other clients publish as usual', async (t) => {
  const { fastify, url, wsUrl } = await listen(t, { WS_MAX_INVALID_FRAMES: 20 })
  const watcher = await Client.open(`${wsUrl}/ws`, t)
  const flooder = new WebSocket(`${wsUrl}/ws`)
  t.teardown(() => flooder.terminate())
  await once(flooder, 'open')
  let errors = 0
  flooder.on('message', () => { errors++ })
  const closed = once<number>(flooder, 'close', 10000)
  // Sent in bursts of 100 without waiting for replies (this process runs the
  // server too, so one synchronous loop would stall both).
  for (let i = 0; i < 5000 && flooder.readyState === WebSocket.OPEN; i++) {
    flooder.send('xxxxxxx')
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(await closed, 1008, 'closed for policy')
  t.ok(errors <= 21, `at most the budget of error frames came back (${errors})`)
  const res = await post(`${url}/alerts`, { message: 'still here', location: 'x' })
  t.equal(res.status, 200, JSON.stringify(res.body))
  t.same(await watcher.next(), res.body, 'the other client still gets events')
  t.equal(fastify.fanout.size, 1, 'the flooder left the set')
  const metrics = await fastify.inject('/metrics')
  t.match(metrics.body, /alert_server_clients_dropped_total\{reason="invalid_frames"\} 1/)
})

t.test('refused frames within the budget keep the connection open; one more closes it', async (t) => {
  const { wsUrl } = await listen(t, { WS_MAX_INVALID_FRAMES: 5 })
  const client = await Client.open(`${wsUrl}/ws`, t)
  for (let i = 0; i < 5; i++) {
    client.send('nope')
    t.equal((await client.next()).code, 'invalid_json')
  }
  client.send({ type: 'ping' })
  t.same(await client.next(), { type: 'pong' }, 'pings do not count')
  client.send({ sender: 's', message: 'fine' })
  t.equal((await client.next()).type, 'chat', 'valid chat does not count')
  // The refill (one a second) is tokenBucket's, tested in ws-limits.test.ts.
  client.send('nope')
  t.same(await client.closed, { code: 1008, reason: 'too many invalid frames' })
})

t.test('the invalid-frame budget defaults to 20', async (t) => {
  const { fastify } = await listen(t)
  t.equal(fastify.config.WS_MAX_INVALID_FRAMES, 20)
})

t.test('deeply nested frames are client errors: answered, never logged as faults, the socket stays open', async (t) => {
  const { fastify, lines } = await buildLogged(t, { WS_MAX_INVALID_FRAMES: 100, WS_MAX_PAYLOAD: 65536 })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const address = fastify.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const client = await Client.open(`ws://127.0.0.1:${address.port}/ws`, t)
  const deep = nested(5000)
  const cases: Array<[string, string, string]> = [
    ['a type of 5,000 nested arrays', `{"type":${deep}}`, 'unknown_type'],
    ['a type of 30,000 nested arrays', `{"type":${nested(30000)}}`, 'unknown_type'],
    ['a type of nested objects', `{"type":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`, 'unknown_type'],
    ['a nested sender', `{"sender":${deep},"message":"m"}`, 'invalid_message'],
    ['a nested message', `{"sender":"s","message":${deep}}`, 'invalid_message'],
    ['a whole frame of nested arrays', deep, 'invalid_message'],
    ['a chat type with nested extras', `{"type":"chat","sender":${deep}}`, 'invalid_message']
  ]
  for (const [name, frame, code] of cases) {
    client.send(frame)
    const reply = await client.next()
    t.equal(reply.code, code, name)
    t.ok(String(reply.message).length < 300, 'the reply does not echo the frame')
  }
  // Extra fields are dropped, however deep.
  client.send(`{"sender":"s","message":"m","extra":${deep}}`)
  t.match(await client.next(), { type: 'chat', sender: 's', message: 'm' })
  t.equal(client.socket.readyState, WebSocket.OPEN)
  const faults = lines.filter((line) => (line.level as number) >= 40)
  t.same(faults, [], 'nothing logged at warn or above')
  t.notOk(lines.some((line) => JSON.stringify(line).includes('RangeError')), 'no stack overflow anywhere')
})

t.test('POST bodies nested deep are 400s, not faults', async (t) => {
  const { fastify, lines } = await buildLogged(t)
  for (const payload of [
    `{"message":${nested(30000)},"location":"x"}`,
    `{"message":"m","location":"x","extra":${'{"__proto__":'.repeat(3000)}1${'}'.repeat(3000)}}`,
    `{"message":"m","location":"x","extra":${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}}`
  ]) {
    const res = await fastify.inject({ method: 'POST', url: '/alerts', payload, headers: { 'content-type': 'application/json' } })
    t.ok(res.statusCode === 400 || res.statusCode === 200, `answered ${res.statusCode} ${res.body.slice(0, 200)}`)
  }
  t.same(lines.filter((line) => (line.level as number) >= 50), [], 'nothing logged as a fault')
})

/**
 * 20,000 stored alerts of about 1 KB (some 21 MB of replay, far past what
 * loopback buffers) and a client replaying them with ?since=all that never
 * reads, once the replay has stalled: the server's backlog for it passed half
 * the limit, where the replay waits for it to drain. `backlog.most` is the
 * largest backlog the client's socket held after any write to it.
 */
async function stalledReplay (t: Test, query = '') {
  const limit = 64 * 1024
  const { fastify, wsUrl } = await listen(t, { HISTORY_SIZE: 20000, REPLAY_WINDOW: 20000, WS_MAX_BUFFERED_BYTES: limit, MAX_EVENT_LOOP_DELAY_MS: 0 })
  const text = 'x'.repeat(1000)
  // In batches: on SQLite each batch is one commit (20,000 commits one after another take minutes on a busy machine).
  // A keyless alert is appended as publish() is called, so the order stays 0, 1, 2...
  for (let i = 0; i < 20000; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, async (_, j) => await fastify.publisher.publish({ type: 'alert', message: `${i + j} ${text}`, location: 'here' })))
  }
  // Every write to the client's TCP socket is seen, with what it leaves queued.
  const backlog = { last: 0, most: 0 }
  fastify.server.once('upgrade', (_request, socket: Socket) => {
    const write = socket.write.bind(socket)
    socket.write = ((...args: Parameters<Socket['write']>) => {
      const accepted = write(...args)
      backlog.last = socket.writableLength
      backlog.most = Math.max(backlog.most, backlog.last)
      return accepted
    }) as Socket['write']
  })
  const client = new Client(`${wsUrl}/ws?since=all${query}`)
  t.teardown(() => client.socket.terminate())
  // Paused as it opens, before any frame is read: it never reads.
  client.socket.once('open', () => client.socket.pause())
  await once(client.socket, 'open')
  // The kernel's buffers fill first; then the backlog builds in the server until the replay waits.
  await waitFor(() => backlog.last > limit / 2, 10000)
  return { fastify, wsUrl, client, backlog, limit, text }
}

t.test('?since=all to a client that does not read: the backlog stays near WS_MAX_BUFFERED_BYTES, and the whole history arrives once it reads', async (t) => {
  // Node warns when an emitter gathers more than 10 listeners of one event.
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning.message) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const { fastify, client, backlog, limit, text } = await stalledReplay(t)
  t.ok(backlog.most <= limit + 16 * 1024, `the server's backlog for the client stayed bounded (at most ${backlog.most} bytes after any write)`)
  t.equal(fastify.fanout.size, 1, 'still connected: it is slow, not gone')
  // Once the replay waits for the client, what it holds is a page and the backlog, not the history.
  await waitFor(() => fastify.fanout.replays().waiting === 1)
  const { running, heldBytes } = fastify.fanout.replays()
  t.equal(running, 1)
  t.ok(heldBytes <= 1.5 * limit, `held ${heldBytes} bytes for the stalled replay (limit ${limit})`)
  const scraped = (await fastify.inject('/metrics')).body
  t.match(scraped, /alert_server_replays\{state="waiting"\} 1/)
  t.match(scraped, /alert_server_replay_held_bytes \d+/)
  client.socket.resume()
  for (let i = 0; i < 20000; i++) {
    const frame = await client.next(10000)
    if (frame.message !== `${i} ${text}`) {
      t.fail(`frame ${i} out of order: ${String(frame.message).slice(0, 20)}`)
      break
    }
  }
  t.ok(backlog.most <= limit + 16 * 1024, `and while it caught up (at most ${backlog.most} bytes)`)
  const res = await fastify.inject({ method: 'POST', url: '/alerts', payload: { message: 'live', location: 'after' } })
  t.same(await client.next(), res.json(), 'then live events')
  t.same(warnings, [], 'the chunks waiting to leave did not pile listeners on the socket')
})

t.test('a stalled replay whose place the history let go of meanwhile: the client is cut with 1013 when it reads on', async (t) => {
  const { fastify, client } = await stalledReplay(t, '&location=here')
  // A window's worth published elsewhere while it stalls: its filter holds
  // none of them for it, and the alerts its replay was reading leave the history.
  for (let i = 0; i < 20000; i++) await fastify.publisher.publish({ type: 'alert', message: `later ${i}`, location: 'elsewhere' })
  t.equal(fastify.fanout.size, 1, 'still connected: nothing was held for it')
  const closed = once<number>(client.socket, 'close', 20_000)
  client.socket.resume()
  t.equal(await closed, 1013, 'cut as too slow, not replayed from the start again')
})

t.test('live events held during a stalled replay count against the limit: past it the client is cut with 1013', async (t) => {
  const { fastify, wsUrl, limit, text } = await stalledReplay(t)
  const watcher = await Client.open(`${wsUrl}/ws`, t)
  let published = 0
  while (fastify.fanout.size === 2 && published < 1000) {
    const res = await fastify.inject({ method: 'POST', url: '/alerts', payload: { message: `live ${text.slice(0, 990)}`, location: 'x' } })
    t.equal(res.statusCode, 200)
    published++
    await watcher.next()
  }
  t.equal(fastify.fanout.size, 1, 'the stalled client was dropped')
  t.ok(published * 1000 <= limit * 2, `after about the limit of held events (${published})`)
  const metrics = await fastify.inject('/metrics')
  t.match(metrics.body, /alert_server_clients_dropped_total\{reason="slow"\} 1/)
})

t.test('one address can hold at most WS_MAX_CONNECTIONS_PER_ADDRESS connections; a freed one can be taken again', async (t) => {
  const { fastify, wsUrl } = await listen(t, { WS_MAX_CONNECTIONS_PER_ADDRESS: 3 })
  const clients = [await Client.open(`${wsUrl}/ws`, t), await Client.open(`${wsUrl}/ws`, t), await Client.open(`${wsUrl}/ws`, t)]
  const refused = await refusedUpgrade(`${wsUrl}/ws`)
  t.equal(refused.status, 429)
  t.equal(refused.body.code, 'ADDRESS_CONNECTION_LIMIT')
  t.match(refused.body.message, /3 open WebSocket connections/)
  t.equal(fastify.fanout.size, 3)
  clients[0]?.socket.close()
  await clients[0]?.closed
  await waitFor(() => fastify.fanout.size === 2)
  const again = await Client.open(`${wsUrl}/ws`, t)
  t.equal(again.socket.readyState, WebSocket.OPEN, 'the freed place is taken')
  t.equal((await refusedUpgrade(`${wsUrl}/ws`)).status, 429)
})

t.test('the per-address connection cap defaults to 50', async (t) => {
  const { fastify } = await listen(t)
  t.equal(fastify.config.WS_MAX_CONNECTIONS_PER_ADDRESS, 50)
})

t.test('chat over /ws counts against the same per-address budget as POST', async (t) => {
  const { fastify, url, wsUrl } = await listen(t, { RATE_LIMIT_MAX: 6, WS_CHAT_RATE: 1e6, WS_CHAT_BURST: 1e6 })
  const client = await Client.open(`${wsUrl}/ws`, t) // the upgrade: 1 of 6
  t.equal((await post(`${url}/alerts`, { message: 'm', location: 'l' })).status, 200) // 2
  await client.next()
  for (let i = 0; i < 4; i++) { // 3 to 6
    client.send({ sender: 's', message: `c${i}` })
    t.equal((await client.next()).type, 'chat')
  }
  client.send({ sender: 's', message: 'over' })
  const refused = await client.next()
  t.equal(refused.code, 'rate_limited', 'chat past the budget is refused')
  t.match(refused.message, /publishing limit \(6 per/)
  const res = await post(`${url}/message`, { sender: 's', message: 'm' })
  t.equal(res.status, 429, 'and so is POST: one budget')
  t.equal((await fastify.inject('/message')).json().count, 4, 'nothing past the budget was stored')
})
