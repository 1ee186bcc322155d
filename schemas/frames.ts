import { Type, type Static } from '@sinclair/typebox'

// Frames only the WebSocket carries; events themselves are in events.ts.
// The WebSocket handler validates with these and the AsyncAPI document is
// generated from them.

export const ErrorCode = Type.Unsafe<'invalid_json' | 'invalid_message' | 'unknown_type' | 'rate_limited' | 'forbidden' | 'server_error'>({
  type: 'string',
  enum: ['invalid_json', 'invalid_message', 'unknown_type', 'rate_limited', 'forbidden', 'server_error'],
  description: 'Machine-readable reason.'
})

export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: ErrorCode,
  message: Type.String({ description: 'What was wrong and what is expected.' })
}, { description: 'Sent to the one client whose frame was refused; the connection stays open.' })
export type ErrorFrame = Static<typeof ErrorFrame>

export const GapFrame = Type.Object({
  type: Type.Literal('gap'),
  message: Type.String()
}, {
  description: 'The id given in ?since= is not (or no longer) in the history: the whole retained history follows, and anything older must be reloaded from elsewhere. ' +
    'Also sent live when the store lost events it had sent (Redis back with older data, or emptied): reload; live events follow.'
})
export type GapFrame = Static<typeof GapFrame>

export const PongFrame = Type.Object({ type: Type.Literal('pong') }, { description: 'The answer to a ping frame.' })
export type PongFrame = Static<typeof PongFrame>

export const PingFrame = Type.Object({ type: Type.Literal('ping') }, {
  additionalProperties: false,
  description: 'Application-level ping for clients that cannot send protocol pings (browsers).'
})

const list = (description: string, example: string) => Type.Optional(Type.String({ maxLength: 2000, description, examples: [example] }))

/** Replay and filters, the same on /ws and /events (read by plugins/core/event-filter.ts). */
export const StreamQuery = {
  since: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'Replay before live events: an event id (every retained event after it; a gap frame first when it is no longer retained), ' +
      '"all" (the whole retained history), a duration back from now ("30s", "10m", "2h", "1d", "500ms") or an ISO 8601 date-time with its zone ' +
      '("2026-01-01T12:00:00Z"): every retained event stamped after that moment.',
    examples: ['all', '10m', '2026-01-01T12:00:00Z']
  })),
  types: list('Comma list of event types: alert, chat, alert_update.', 'alert,alert_update'),
  severity: list('Comma list of severities (info, warning, critical).', 'critical'),
  min_severity: Type.Optional(Type.String({ maxLength: 20, description: 'The least severity: info < warning < critical.', examples: ['warning'] })),
  location: list('Comma list of locations.', 'North Gate'),
  key: list('Comma list of alert keys.', 'disk-full:db1'),
  tag: list('Comma list of tags: an alert with any of them passes.', 'db'),
  token: Type.Optional(Type.String({
    description: 'The API token, when the server requires one and the client cannot send an Authorization header (browsers).'
  }))
}

export const WsQuery = Type.Object(StreamQuery, {
  description: 'Filters: values within one parameter OR, parameters AND. Chat is filtered by `types` only; an alert_update passes when the alert it carries does.'
})
export type WsQuery = Static<typeof WsQuery>

export const EventsQuery = Type.Object({
  ...StreamQuery,
  format: Type.Optional(Type.Unsafe<'sse' | 'ndjson'>({ type: 'string', enum: ['sse', 'ndjson'], description: 'sse (the default) or ndjson; `Accept: application/x-ndjson` also asks for ndjson.' })),
  poll: Type.Optional(Type.Unsafe<'1' | 'true' | '0' | 'false'>({ type: 'string', enum: ['1', 'true', '0', 'false'], description: '1: send the replay (or, without since, the whole retained history) and end the response.' }))
}, { description: WsQuery.description })
export type EventsQuery = Static<typeof EventsQuery>

export const EventsHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'What EventSource sends when it reconnects: the id of the last event it received. Takes the place of ?since=.'
  }))
})

export const KeepaliveFrame = Type.Object({ type: Type.Literal('keepalive') }, {
  description: 'NDJSON only: sent every SSE_HEARTBEAT_MS so proxies keep a quiet stream open; skip it. (SSE sends a comment line instead.)'
})
