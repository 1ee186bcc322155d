import t, { type Test } from 'tap'
import pino from 'pino'
import { createServer, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { checkWsInternals, directSocket, wsServerOptions } from '../plugins/core/ws-internals'
import { createFanout } from '../plugins/core/fanout'
import { stamp } from '../plugins/core/publisher'
import { Client } from './helpers/ws-client'
import { once } from './helpers/wait'

// These fail when an upgrade of ws changes what the fan-out relies on
// (plugins/core/ws-internals.ts): then frames would silently go the slow way.
t.test('the installed ws keeps every assumption of the direct write path', async (t) => {
  t.same(checkWsInternals(wsServerOptions(16384)), [])
  t.match(checkWsInternals({ perMessageDeflate: {} }), [/permessage-deflate/])
})

/** A bare ws server on a free port whose connections come with their TCP socket. */
async function server (t: Test, perMessageDeflate: boolean): Promise<{ url: string, connections: Array<{ socket: WebSocket, tcp: Socket }> }> {
  const http = createServer()
  const wss = new WebSocketServer({ server: http, perMessageDeflate })
  const connections: Array<{ socket: WebSocket, tcp: Socket }> = []
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => { connections.push({ socket, tcp: request.socket }) })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  t.teardown(async () => {
    for (const client of wss.clients) client.terminate()
    await new Promise((resolve) => http.close(resolve))
  })
  const address = http.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { url: `ws://127.0.0.1:${address.port}`, connections }
}

for (const compression of [false, true]) {
  t.test(`${compression ? 'with' : 'without'} a negotiated extension, every event arrives ${compression ? 'through ws.send' : 'by direct writes to the TCP socket'}`, async (t) => {
    const { url, connections } = await server(t, compression)
    const client = await Client.open(url, t, { perMessageDeflate: compression })
    const { socket, tcp } = connections[0] as { socket: WebSocket, tcp: Socket }
    t.equal(directSocket(socket, tcp, true) === tcp, !compression, compression ? 'falls back to send' : 'writes directly')
    t.equal(directSocket(socket, tcp, false), undefined, 'never directly when the start-up check failed')

    const fanout = createFanout({ maxBufferedBytes: 1 << 20, heartbeatMs: 0, direct: true, log: pino({ level: 'silent' }) })
    await fanout.add(socket, { tcp })
    const events = Array.from({ length: 20 }, (_, i) => stamp({ type: 'alert', message: `m${i}`, location: 'l' }))
    for (const event of events) fanout.broadcast(event)
    for (const event of events) t.same(await client.next(), event)
    fanout.send(socket, { type: 'pong' })
    t.same(await client.next(), { type: 'pong' })
    fanout.close(1001, 'bye')
    t.same(await client.closed, { code: 1001, reason: 'bye' })
  })
}
