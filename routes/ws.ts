import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { ChatInput } from '../schemas/events'
import { httpError } from '../plugins/errors'
import { WsQuery, type ErrorFrame, type PongFrame } from '../schemas/frames'

const CHAT_EXPECTED = 'expected {"sender": string, "message": string} or {"type": "ping"}'

const clock = (): number => performance.now()

/** Token bucket: `rate` tokens a second, at most `burst` saved up. */
export function tokenBucket (rate: number, burst: number, now = clock): () => boolean {
  let tokens = burst
  let last = now()
  return () => {
    const t = now()
    tokens = Math.min(burst, tokens + (t - last) * rate / 1000)
    last = t
    if (tokens < 1) return false
    tokens -= 1
    return true
  }
}

type TcpSocket = WebSocket & { _socket?: { _httpMessage?: { detachSocket: (socket: unknown) => void } | null } }

/**
 * Lets go of the HTTP objects of the upgrade, which would otherwise live as
 * long as the connection (several KiB each, for days): the response that
 * @fastify/websocket attaches to the TCP socket for routing, and the Fastify
 * request and reply that its 'error' listener closes over. The listener is
 * replaced by one doing the same (log, then cut the connection).
 */
function releaseUpgrade (socket: WebSocket, log: FastifyBaseLogger): void {
  const tcp = (socket as TcpSocket)._socket
  tcp?._httpMessage?.detachSocket(tcp)
  socket.removeAllListeners('error')
  socket.on('error', (err) => {
    log.warn({ err }, 'websocket error')
    socket.terminate()
  })
}

const ws: FastifyPluginAsyncTypebox = async (fastify) => {
  const { broadcaster, publisher, store, compileCheck } = fastify
  const { WS_CHAT_RATE, WS_CHAT_BURST } = fastify.config
  const checkChat = compileCheck(ChatInput, 'frame')

  const refuse = (socket: WebSocket, code: ErrorFrame['code'], message: string): void =>
    broadcaster.send(socket, { type: 'error', code, message } satisfies ErrorFrame)

  async function onFrame (socket: WebSocket, data: RawData, allowChat: () => boolean): Promise<void> {
    let frame: unknown
    try {
      frame = JSON.parse(data.toString())
    } catch {
      return refuse(socket, 'invalid_json', `frame is not valid JSON; ${CHAT_EXPECTED}`)
    }
    const type = typeof frame === 'object' && frame !== null && !Array.isArray(frame)
      ? (frame as Record<string, unknown>).type
      : undefined
    if (type === 'ping') return broadcaster.send(socket, { type: 'pong' } satisfies PongFrame)
    if (type !== undefined && type !== 'chat') {
      return refuse(socket, 'unknown_type', `unknown frame type ${JSON.stringify(type)}; ${CHAT_EXPECTED}`)
    }
    const result = checkChat(frame)
    if (!result.ok) return refuse(socket, 'invalid_message', `${result.message}; ${CHAT_EXPECTED}`)
    if (!allowChat()) {
      return refuse(socket, 'rate_limited', `more than ${WS_CHAT_RATE} chat messages a second (burst ${WS_CHAT_BURST}); this one was not sent`)
    }
    await publisher.publish({ type: 'chat', ...result.value })
  }

  fastify.get('/ws', {
    websocket: true,
    schema: {
      tags: ['websocket'],
      summary: 'Live events over WebSocket',
      description: 'Upgrade to a WebSocket. Every alert and chat message is sent as one JSON text frame. ' +
        'Send {"sender": "...", "message": "..."} to chat. The frames are described in /asyncapi.json.',
      querystring: WsQuery
    },
    // A plain GET (no upgrade) gets a JSON answer rather than an empty 404.
    preHandler: async (request, reply) => {
      if (!request.ws) {
        reply.header('upgrade', 'websocket')
        throw httpError(426, 'GET /ws is a WebSocket endpoint; connect with a WebSocket client')
      }
    }
  }, (socket, request) => {
    // Nothing below keeps `request` itself: a connection can live for days,
    // and the request (with its raw message and headers) is large.
    const { since } = request.query
    const log = request.log
    releaseUpgrade(socket, log)
    const allowChat = tokenBucket(WS_CHAT_RATE, WS_CHAT_BURST)
    log.info({ since, clients: broadcaster.size + 1 }, 'websocket connected')
    socket.once('close', (code, reason) => {
      log.info({ code, reason: reason.toString() }, 'websocket disconnected')
    })
    socket.on('message', (data) => {
      onFrame(socket, data, allowChat).catch((err: unknown) => {
        log.error({ err }, 'websocket frame failed')
        refuse(socket, 'server_error', 'the message could not be published; try again')
      })
    })
    void broadcaster.add(socket, since === undefined ? undefined : async () => await store.since(since === 'all' ? undefined : since))
  })
}

export default ws
