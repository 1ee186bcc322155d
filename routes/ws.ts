import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ChatInput } from '../schemas/events'
import { httpError, upgradeErrors } from '../schemas/errors'
import { WsQuery, type ErrorFrame, type PongFrame } from '../schemas/frames'
import { readClientFrame } from '../plugins/core/client-frames'
import { tokenBucket } from '../plugins/core/token-bucket'
import { releaseUpgrade } from '../plugins/core/ws-internals'
import { clientKey } from '../plugins/app/requests'
import { scopeAllows } from '../plugins/core/credentials'
import { replayPages } from '../plugins/core/event-filter'
import { actor, FILTER_LISTS, repeatedParameters, subscription, type Subscription } from './shared'

const ws: FastifyPluginAsyncTypebox = async (fastify) => {
  const { fanout, publisher, backend, compileCheck, timers, takePublish, allows, credentials } = fastify
  const { WS_CHAT_RATE, WS_CHAT_BURST, WS_MAX_INVALID_FRAMES, RATE_LIMIT_MAX, RATE_LIMIT_WINDOW } = fastify.config
  const checkChat = compileCheck(ChatInput, 'frame')
  // The raw response of each upgrade and what it subscribes to, from its
  // preHandler to its handler (which gets no reply), so the handler can let it go.
  const upgrades = new WeakMap<IncomingMessage, { response: ServerResponse, subscription: Subscription }>()
  const rateText = `more than ${WS_CHAT_RATE} chat messages a second (burst ${WS_CHAT_BURST}) on this connection, or over this address's publishing limit (${RATE_LIMIT_MAX} per ${RATE_LIMIT_WINDOW}, shared with POST)`

  fastify.get('/ws', {
    websocket: true,
    config: { scope: 'subscribe' },
    schema: {
      tags: ['websocket'],
      summary: 'Live events over WebSocket',
      description: 'Upgrade to a WebSocket. Every alert and chat message is sent as one JSON text frame. ' +
        'Send {"sender": "...", "message": "..."} to chat. The frames are described in /asyncapi.json. ' +
        'Filters (types, severity, min_severity, location, key, tag) and since are checked before the upgrade: a mistake is 400.',
      querystring: WsQuery,
      response: upgradeErrors
    },
    preValidation: repeatedParameters(FILTER_LISTS),
    // A plain GET (no upgrade) gets a JSON answer rather than an empty 404.
    preHandler: async (request, reply) => {
      if (!request.ws) {
        reply.header('upgrade', 'websocket')
        throw httpError('UPGRADE_REQUIRED', 'GET /ws is a WebSocket endpoint; connect with a WebSocket client')
      }
      upgrades.set(request.raw, { response: reply.raw, subscription: subscription(request.query, timers.now()) })
    }
  }, (socket, request) => {
    // Nothing below keeps `request` itself: a connection can live for days,
    // and the request (with its raw message and headers) is large.
    const log = request.log
    const tcp = request.raw.socket
    const upgrade = upgrades.get(request.raw)
    upgrades.delete(request.raw)
    const { filter, since } = upgrade?.subscription ?? { filter: undefined, since: undefined }
    const response = upgrade?.response
    releaseUpgrade(socket, response, tcp, (err) => {
      log.warn({ err }, 'websocket error')
      socket.terminate()
    })
    // Kept, not the request: who the connection is, whether it may chat, its rate-limit key.
    const identity = request.identity
    const openedWithPublish = allows(request, 'publish')
    // Asked on every frame, not kept from the upgrade: a reload of TOKENS_FILE
    // that takes publish away (or the entry) stops the chat at once.
    const mayPublish = (): boolean => {
      if (identity === null) return openedWithPublish
      const now = credentials.current(identity)
      return now !== undefined && scopeAllows(now.scopes, 'publish')
    }
    let mayChat = openedWithPublish
    const key = clientKey(request)
    const bucket = tokenBucket(WS_CHAT_RATE, WS_CHAT_BURST, timers.now)
    // The connection's own rate, then the client's publish budget, shared with POST.
    // (A connection that may not chat spends neither: its chat is refused as forbidden below.)
    const allowChat = (): boolean => !mayChat || (bucket() && takePublish(key))
    // Each refused frame costs the server a parse and an error frame: a
    // connection that keeps sending them is cut rather than answered forever.
    const allowRefusal = tokenBucket(1, WS_MAX_INVALID_FRAMES, timers.now)
    log.info({ since: request.query.since, filter: filter?.key, clients: fanout.size + 1 }, 'websocket connected')
    socket.once('close', (code, reason) => {
      log.info({ code, reason: reason.toString() }, 'websocket disconnected')
    })
    socket.on('message', (data) => {
      // Frames that arrive after the server closed the connection are not read.
      if (socket.readyState !== socket.OPEN) return
      mayChat = mayPublish()
      const frame = readClientFrame(data.toString(), checkChat, allowChat, rateText)
      if (frame.action === 'pong') return fanout.send(socket, { type: 'pong' } satisfies PongFrame)
      if (frame.action === 'refuse') {
        if (!allowRefusal()) return fanout.drop(socket, 'invalid_frames', 1008, 'too many invalid frames')
        return fanout.send(socket, { type: 'error', code: frame.code, message: frame.message } satisfies ErrorFrame)
      }
      if (!mayChat) {
        if (!allowRefusal()) return fanout.drop(socket, 'invalid_frames', 1008, 'too many invalid frames')
        return fanout.send(socket, { type: 'error', code: 'forbidden', message: 'chat needs the publish scope, which this token does not have; this one was not sent' } satisfies ErrorFrame)
      }
      publisher.publish({ type: 'chat', ...frame.chat, sender: actor({ identity }, frame.chat.sender) }).catch((err: unknown) => {
        log.error({ err }, 'websocket frame failed')
        fanout.send(socket, { type: 'error', code: 'server_error', message: 'the message could not be published; try again' } satisfies ErrorFrame)
      })
    })
    void fanout.add(socket, {
      tcp,
      identity: identity ?? undefined,
      filter,
      replay: since === undefined ? undefined : replayPages(async (id, limit) => await backend.store.since(id, limit), since)
    })
  })
}

export default ws
