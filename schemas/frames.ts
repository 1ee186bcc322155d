import { Type, type Static } from '@sinclair/typebox'

// Frames only the WebSocket carries; events themselves are in events.ts.

export const ErrorCode = Type.Unsafe<'invalid_json' | 'invalid_message' | 'unknown_type' | 'rate_limited' | 'server_error'>({
  type: 'string',
  enum: ['invalid_json', 'invalid_message', 'unknown_type', 'rate_limited', 'server_error']
})

export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: ErrorCode,
  message: Type.String({ description: 'What was wrong and what is expected.' })
}, { description: 'Sent to the one client whose frame was refused; the connection stays open.' })
export type ErrorFrame = Static<typeof ErrorFrame>
