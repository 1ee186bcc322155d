import t from 'tap'
import { connect } from 'node:net'
import { listen } from './helpers/app'
import { once } from './helpers/wait'
import { parseResponse } from './helpers/raw'

// Short timeouts, so a slow client is cut within a second or so.
const TIMEOUTS = { REQUEST_TIMEOUT_MS: 300, HEADERS_TIMEOUT_MS: 200 }

/**
 * Sends `head` and then `body` a byte every 20 ms, for ever. Resolves with
 * what the server sent when it closed the connection, and how long that took.
 */
async function trickle (port: number, head: string, body: string): Promise<{ response: ReturnType<typeof parseResponse>, ms: number, sent: number }> {
  const socket = connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {})
  await once(socket, 'connect')
  const started = Date.now()
  socket.write(head)
  let sent = 0
  const timer = setInterval(() => { if (socket.writable) socket.write(body[sent++ % body.length] ?? ' ') }, 20)
  try {
    await once(socket, 'close', 5000)
  } finally {
    clearInterval(timer)
    socket.destroy()
  }
  return { response: parseResponse(Buffer.concat(chunks).toString()), ms: Date.now() - started, sent }
}

const body = JSON.stringify({ message: 'slow', location: 'door' }).padEnd(4000, ' ')
const post = (path: string): string =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`

for (const path of ['/alerts', '/nowhere']) {
  t.test(`a POST to ${path} whose body trickles in is cut at REQUEST_TIMEOUT_MS with 408`, async (t) => {
    const { fastify } = await listen(t, TIMEOUTS)
    const { port } = fastify.server.address() as { port: number }
    const { response, ms } = await trickle(port, post(path), body)
    t.ok(ms < 3000, `cut after ${ms} ms`)
    t.equal(response.status, 408)
    t.same(JSON.parse(response.body), { statusCode: 408, code: 'REQUEST_TIMEOUT', error: 'Request Timeout', message: 'the request was not received in time' })
    t.equal((await fastify.inject('/alerts/history')).json().count, 0, 'nothing stored')
  })
}

t.test('headers that trickle in are cut at HEADERS_TIMEOUT_MS with 408', async (t) => {
  const { fastify } = await listen(t, TIMEOUTS)
  const { port } = fastify.server.address() as { port: number }
  const { response, ms } = await trickle(port, 'GET /health HTTP/1.1\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')
  t.ok(ms < 3000, `cut after ${ms} ms`)
  t.equal(response.status, 408)
  t.match(JSON.parse(response.body), { statusCode: 408, code: 'REQUEST_TIMEOUT' })
})

t.test('a request sent at a normal pace is not affected', async (t) => {
  const { url } = await listen(t, TIMEOUTS)
  const res = await fetch(`${url}/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  t.equal(res.status, 200)
})
