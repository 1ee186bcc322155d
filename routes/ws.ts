import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RawData, WebSocket } from 'ws'
import { ChatInput } from '../schemas/events'
import type { ErrorFrame } from '../schemas/frames'

const CHAT_EXPECTED = 'expected {"sender": string, "message": string}'

const ws: FastifyPluginAsyncTypebox = async (fastify) => {
  const { broadcaster, publisher, compileCheck } = fastify
  const checkChat = compileCheck(ChatInput, 'frame')

  const refuse = (socket: WebSocket, code: ErrorFrame['code'], message: string): void =>
    broadcaster.send(socket, { type: 'error', code, message } satisfies ErrorFrame)

  async function onFrame (socket: WebSocket, data: RawData): Promise<void> {
    let frame: unknown
    try {
      frame = JSON.parse(data.toString())
    } catch {
      return refuse(socket, 'invalid_json', `frame is not valid JSON; ${CHAT_EXPECTED}`)
    }
    const type = typeof frame === 'object' && frame !== null && !Array.isArray(frame)
      ? (frame as Record<string, unknown>).type
      : undefined
    if (type !== undefined && type !== 'chat') {
      return refuse(socket, 'unknown_type', `unknown frame type ${JSON.stringify(type)}; ${CHAT_EXPECTED}`)
    }
    const result = checkChat(frame)
    if (!result.ok) return refuse(socket, 'invalid_message', `${result.message}; ${CHAT_EXPECTED}`)
    await publisher.publish({ type: 'chat', ...result.value })
  }

  fastify.get('/ws', {
    websocket: true,
    schema: {
      tags: ['websocket'],
      summary: 'Live events over WebSocket',
      description: 'Upgrade to a WebSocket. Every alert and chat message is sent as one JSON text frame. ' +
        'Send {"sender": "...", "message": "..."} to chat.'
    },
    // A plain GET (no upgrade) gets a JSON answer rather than an empty 404.
    preHandler: async (request, reply) => {
      if (!request.ws) {
        await reply.code(426).header('upgrade', 'websocket')
          .send({ statusCode: 426, error: 'Upgrade Required', message: 'GET /ws is a WebSocket endpoint; connect with a WebSocket client' })
      }
    }
  }, (socket, request) => {
    broadcaster.add(socket)
    socket.on('message', (data) => {
      onFrame(socket, data).catch((err: unknown) => {
        request.log.error({ err }, 'websocket frame failed')
        refuse(socket, 'server_error', 'the message could not be published; try again')
      })
    })
  })
}

export default ws
