import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { Duplex } from 'node:stream'
import { writeError } from '../core/socket-error'
import { wsServerOptions } from '../core/ws-internals'
import { errorBody } from '../../schemas/errors'

declare module 'fastify' {
  interface FastifyInstance {
    /** Called at preClose, before the WebSocket server stops accepting: the fan-out closes its clients here. */
    onWebsocketClose: (listener: () => void) => void
  }
}

/**
 * @fastify/websocket, with frames over WS_MAX_PAYLOAD closing the connection
 * with 1009. Registered before every plugin that may refuse an upgrade
 * (origin, auth, rate limit, overload): their hooks then see request.ws, and
 * the socket of a refused upgrade is destroyed after the response.
 */
export default fp(async function websocketServer (fastify) {
  const listeners: Array<() => void> = []
  fastify.decorate('onWebsocketClose', (listener: () => void) => { listeners.push(listener) })
  await fastify.register(websocket, {
    options: wsServerOptions(fastify.config.WS_MAX_PAYLOAD),
    preClose (done) {
      for (const listener of listeners) listener()
      fastify.websocketServer.close(() => done())
    }
  })
  // ws refuses a broken handshake (no or bad Sec-WebSocket-Key or -Version)
  // with a text body; with a listener here it leaves the answer to us.
  fastify.websocketServer.on('wsClientError', (err: Error, socket: Duplex) => {
    fastify.log.debug({ err }, 'websocket handshake refused')
    const headers: Record<string, string> = /Sec-WebSocket-Version/.test(err.message) ? { 'Sec-WebSocket-Version': '13, 8' } : {}
    writeError(socket, errorBody('INVALID_WEBSOCKET_HANDSHAKE', err.message), headers)
  })
}, { name: 'websocket', fastify: '5.x', dependencies: ['config'] })
