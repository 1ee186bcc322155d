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
}, { description: 'The id given in ?since= is not (or no longer) in the history: the whole retained history follows, and anything older must be reloaded from elsewhere.' })
export type GapFrame = Static<typeof GapFrame>

export const PongFrame = Type.Object({ type: Type.Literal('pong') }, { description: 'The answer to a ping frame.' })
export type PongFrame = Static<typeof PongFrame>

export const PingFrame = Type.Object({ type: Type.Literal('ping') }, {
  additionalProperties: false,
  description: 'Application-level ping for clients that cannot send protocol pings (browsers).'
})

export const WsQuery = Type.Object({
  since: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'Replay before live events: an event id (every stored event after it) or "all" (the whole retained history).',
    examples: ['all']
  })),
  token: Type.Optional(Type.String({
    description: 'The API token, when the server requires one and the client cannot send an Authorization header (browsers).'
  }))
})
export type WsQuery = Static<typeof WsQuery>
