import type { FastifyPluginAsync } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { Alert, AlertUpdate, Chat, ChatInput } from '../schemas/events'
import { ErrorFrame, EventsQuery, GapFrame, KeepaliveFrame, PingFrame, PongFrame, WsQuery } from '../schemas/frames'

// Plain JSON: TypeBox keeps its metadata under symbol keys, which JSON drops.
const json = (schema: TSchema): Record<string, unknown> => JSON.parse(JSON.stringify(schema))

/** What travels over /ws, from the schemas the server validates and sends with. */
export const wsMessages = {
  server: { alert: Alert, alert_update: AlertUpdate, chat: Chat, error: ErrorFrame, gap: GapFrame, pong: PongFrame },
  client: { chat: ChatInput, ping: PingFrame }
} as const

/** What GET /events sends: the frames of /ws a subscriber receives (no pong: it sends nothing), and NDJSON's keepalive. */
export const streamMessages = { alert: Alert, alert_update: AlertUpdate, chat: Chat, error: ErrorFrame, gap: GapFrame, keepalive: KeepaliveFrame } as const

const titles: Record<string, string> = {
  alert: 'An alert, as published',
  alert_update: 'An alert changed (repeated, acknowledged, resolved, escalated), with the whole alert as it now stands',
  chat: 'A chat message, as published',
  error: 'A refused client frame',
  gap: 'Replay could not start where asked',
  pong: 'Answer to a ping',
  sendChat: 'Send a chat message',
  ping: 'Application-level ping',
  keepalive: 'NDJSON keep-alive line'
}

/** AsyncAPI 3.0 document of the /ws channel. */
export function buildAsyncApi (domain: string): Record<string, unknown> {
  const messages: Record<string, unknown> = {}
  const ref = (name: string) => ({ $ref: `#/components/messages/${name}` })
  for (const [name, schema] of Object.entries(wsMessages.server)) {
    messages[name] = { name, title: titles[name], contentType: 'application/json', payload: json(schema) }
  }
  messages.sendChat = { name: 'sendChat', title: titles.sendChat, contentType: 'application/json', payload: json(wsMessages.client.chat) }
  messages.ping = { name: 'ping', title: titles.ping, contentType: 'application/json', payload: json(wsMessages.client.ping) }
  messages.keepalive = { name: 'keepalive', title: titles.keepalive, contentType: 'application/x-ndjson', payload: json(KeepaliveFrame) }

  const channelRef = { $ref: '#/channels/events' }
  const channelMessage = (name: string) => ({ $ref: `#/channels/events/messages/${name}` })
  const host = domain === '' ? 'localhost:8000' : domain.replace(/^\w+:\/\//, '')
  const secure = /^https:\/\//.test(domain)

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Alert server live events',
      version: '1.0.0',
      description: 'Every alert and chat message is sent to every client of /ws as one JSON text frame. ' +
        'With ?since=<event id> the events stored after that id are sent first (?since=all: the whole history), then live events. ' +
        'Chat counts against the per-address publishing budget of POST; one address may hold WS_MAX_CONNECTIONS_PER_ADDRESS connections. ' +
        'Every refused frame counts against a budget of the connection (WS_MAX_INVALID_FRAMES at once, one more a second). ' +
        'When credentials are configured the upgrade needs a token with the subscribe scope (see the security schemes), and chat needs publish ' +
        '(without it a chat frame gets an error frame with code forbidden). With a named credential (a TOKENS_FILE entry or a JWT) the chat sender is its name. ' +
        'A connection whose token is revoked (its TOKENS_FILE entry removed) or expires is closed with 1008 "token revoked" or "token expired"; reconnect with a fresh token. ' +
        'Close codes: 1000 normal, 1001 server shutting down, 1008 policy (too many refused frames, token revoked or expired), 1009 frame too large, ' +
        '1011 server error, 1013 too slow / try again later. ' +
        'The same frames go over plain HTTP on GET /events (the stream channel): Server-Sent Events by default (id: the event id, event: the frame type, ' +
        'data: the frame JSON; a comment line every SSE_HEARTBEAT_MS) or NDJSON (?format=ndjson or Accept: application/x-ndjson; one frame a line, ' +
        'keepalive frames). Replay from ?since= or Last-Event-ID, the gap frame, filters, connection caps and the slow-reader cut are those of /ws; ' +
        'a stream that is cut, or open at shutdown, ends, and EventSource reconnects with Last-Event-ID. ' +
        'With credentials configured a stream needs the subscribe scope, as Authorization: Bearer or ?token=; a stream whose token is revoked or expires ends. ' +
        'Filters on both: types, severity, min_severity, location, key, tag (comma lists; values within one parameter OR, parameters AND; ' +
        'chat is filtered by types alone, an alert_update by the alert it carries). since: an event id, all, a duration (30s, 10m, 2h) or an ISO 8601 date-time.'
    },
    servers: {
      default: {
        host,
        protocol: secure ? 'wss' : 'ws',
        description: 'This server. When it requires credentials, send one of them on the upgrade.',
        security: [{ $ref: '#/components/securitySchemes/bearer' }, { $ref: '#/components/securitySchemes/queryToken' }]
      }
    },
    channels: {
      events: {
        address: '/ws',
        messages: Object.fromEntries(Object.keys(messages).map((name) => [name, ref(name)])),
        bindings: { ws: { method: 'GET', query: json(WsQuery), bindingVersion: '0.1.0' } }
      },
      stream: {
        address: '/events',
        description: 'GET /events: text/event-stream or application/x-ndjson. Query: ' + Object.keys(EventsQuery.properties).join(', ') + '; header Last-Event-ID.',
        messages: Object.fromEntries(Object.keys(streamMessages).map((name) => [name, ref(name)]))
      }
    },
    operations: {
      ...Object.fromEntries(Object.keys(wsMessages.server).map((name) => [
        `send${name[0]?.toUpperCase()}${name.slice(1)}`,
        { action: 'send', channel: channelRef, summary: `The server sends: ${titles[name]?.toLowerCase()}.`, messages: [channelMessage(name)] }
      ])),
      receiveChat: { action: 'receive', channel: channelRef, summary: 'A client sends a chat message; it is stored and sent to everyone.', messages: [channelMessage('sendChat')] },
      receivePing: { action: 'receive', channel: channelRef, summary: 'A client pings; the server answers with pong.', messages: [channelMessage('ping')] },
      streamEvents: {
        action: 'send',
        channel: { $ref: '#/channels/stream' },
        summary: 'The server streams the frames a subscriber receives over GET /events.',
        messages: Object.keys(streamMessages).map((name) => ({ $ref: `#/channels/stream/messages/${name}` })),
        bindings: { http: { method: 'GET', query: json(EventsQuery), bindingVersion: '0.3.0' } }
      }
    },
    components: {
      messages,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Authorization: Bearer <token> on the upgrade request: a TOKENS_FILE token, API_TOKEN, or a JWT (claims sub, scope, exp). ' +
            'Scopes: subscribe to connect, publish to chat.'
        },
        queryToken: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: '?token=<token> on the upgrade URL, for browsers (which cannot set headers on a WebSocket). Never written to logs.'
        }
      }
    }
  }
}

const asyncapi: FastifyPluginAsync = async (fastify) => {
  const body = JSON.stringify(buildAsyncApi(fastify.config.DOMAIN))
  fastify.get('/asyncapi.json', {
    // Open like the OpenAPI document: it describes the API, it does not use it.
    config: { public: true },
    schema: { tags: ['websocket'], summary: 'AsyncAPI 3.0 document of /ws and /events', security: [] }
  }, async (_request, reply) => await reply.type('application/json; charset=utf-8').send(body))
}

export default asyncapi
