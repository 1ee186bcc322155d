import fp from 'fastify-plugin'
import { createFanout, RESET_GAP_FRAME, type Fanout } from '../core/fanout'
import { checkWsInternals, wsServerOptions } from '../core/ws-internals'
import { httpError } from '../../schemas/errors'
import { clientAddress, subscribes } from './requests'

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's subscribers (WebSockets and GET /events streams); every event of the backend's feed goes to each of them. */
    fanout: Fanout
  }
}

export default fp(async function fanout (fastify) {
  const { WS_MAX_BUFFERED_BYTES, WS_HEARTBEAT_MS, SSE_HEARTBEAT_MS, WS_MAX_PAYLOAD, WS_MAX_CONNECTIONS, WS_MAX_CONNECTIONS_PER_ADDRESS } = fastify.config
  const problems = checkWsInternals(wsServerOptions(WS_MAX_PAYLOAD))
  for (const problem of problems) fastify.log.warn({ problem }, 'websocket frames go through ws (slower)')
  const fanout = createFanout({ maxBufferedBytes: WS_MAX_BUFFERED_BYTES, heartbeatMs: WS_HEARTBEAT_MS, streamHeartbeatMs: SSE_HEARTBEAT_MS, direct: problems.length === 0, log: fastify.log, timers: fastify.timers, caughtUp: fastify.backend.feed.caughtUp })
  fastify.backend.feed.subscribe((event) => fanout.broadcast(event))
  fastify.backend.feed.onTurn?.(() => { fanout.expect() })
  // The store lost events its clients may hold (Redis went back in time): they reload.
  fastify.backend.feed.onReset?.(() => fanout.gap(RESET_GAP_FRAME))
  fastify.decorate('fanout', fanout)
  // A revoked or expired credential's connections are closed: at once after a
  // reload of TOKENS_FILE, and by a sweep each second for expiry.
  const { credentials, timers } = fastify
  const sweep = (): void => { fanout.dropLapsed(credentials.lapse) }
  credentials.onChange(sweep)
  if (fastify.config.TOKENS_FILE !== '' || fastify.hasDecorator('jwt')) {
    const sweeper = timers.setInterval(sweep, 1000)
    sweeper.unref()
    fastify.addHook('onClose', async () => { timers.clearInterval(sweeper) })
  }
  // Going away: tell clients the server is shutting down (streams end).
  fastify.onWebsocketClose(() => fanout.close(1001, 'server shutting down'))

  // Connections per client address, WebSockets and streams together, counted
  // from the request until its TCP socket closes (a stream: its response), so
  // upgrades in flight count too.
  const perAddress = new Map<string, number>()
  // A callback hook, not an async one: every request passes here, and one
  // that is not an upgrade costs a property read, no promise.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!subscribes(request)) {
      done()
      return
    }
    if (fanout.size >= WS_MAX_CONNECTIONS) {
      reply.header('retry-after', '5')
      done(httpError('CONNECTION_LIMIT', `connection limit (${WS_MAX_CONNECTIONS}) reached; retry later`))
      return
    }
    const address = clientAddress(request)
    const open = perAddress.get(address) ?? 0
    if (open >= WS_MAX_CONNECTIONS_PER_ADDRESS) {
      done(httpError('ADDRESS_CONNECTION_LIMIT', `this address has ${open} open WebSocket connections and event streams, the most allowed; close one first`))
      return
    }
    perAddress.set(address, open + 1)
    // A stream's connection may be kept alive for other requests after it ends.
    const closes = request.ws ? request.raw.socket : reply.raw
    closes?.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1
      if (left <= 0) perAddress.delete(address)
      else perAddress.set(address, left)
    })
    done()
  })
}, {
  name: 'fanout',
  fastify: '5.x',
  dependencies: ['config', 'timers', 'backend', 'websocket', 'credentials'],
  decorators: { request: ['ws'] }
})
