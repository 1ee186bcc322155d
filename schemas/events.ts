import { Type, type Static } from '@sinclair/typebox'

/**
 * Not blank: at least one character that shows. Whitespace, controls (NUL...),
 * format characters and the other default-ignorable ones (zero-width spaces and
 * joiners, the BOM, Hangul fillers, variation selectors) do not count. Ajv
 * compiles patterns with the u flag, which \p{...} needs.
 */
export const NOT_BLANK = '[^\\s\\p{Cc}\\p{Cf}\\p{Default_Ignorable_Code_Point}]'

/**
 * Extension keyword (checked by plugins/app/validation.ts): the string is
 * well-formed Unicode, i.e. has no lone surrogate such as "\ud800", which JSON
 * can carry as an escape but UTF-8 cannot encode.
 */
export const WELL_FORMED = 'x-well-formed'

// Text a client sends: well-formed, not blank, at most maxLength characters (code points).
const text = (maxLength: number, description: string, example: string) =>
  Type.String({ minLength: 1, maxLength, pattern: NOT_BLANK, [WELL_FORMED]: true, description, examples: [example] })

const message = text(1000, 'What happened; 1 to 1000 characters, not blank (whitespace, control and zero-width characters alone are blank), well-formed Unicode.', 'Intruder detected')
const location = text(200, 'Where it happened; 1 to 200 characters, not blank, well-formed Unicode.', 'North Gate')
const sender = text(200, 'Who is talking; 1 to 200 characters, not blank, well-formed Unicode.', 'Jose')
const chatText = text(1000, 'The chat text; 1 to 1000 characters, not blank (whitespace, control and zero-width characters alone are blank), well-formed Unicode.', 'Please check the back door')

const id = Type.String({ format: 'uuid', description: 'UUID v4, set by the server.', examples: ['7bb4eacd-9d48-4fff-a9d0-a7caffbd52a8'] })
const timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 in UTC, set by the server.', examples: ['2026-01-01T12:00:00.000Z'] })

// Unknown fields are stripped by the validator (removeAdditional), so a client
// can never set id, timestamp or type.
export const AlertInput = Type.Object({ message, location }, {
  additionalProperties: false,
  description: 'A manual alert. id, timestamp and type are set by the server.',
  examples: [{ message: 'Unauthorized door access', location: 'South Gate' }]
})
export type AlertInput = Static<typeof AlertInput>

export const ChatInput = Type.Object({ sender, message: chatText }, {
  additionalProperties: false,
  description: 'A chat message. id, timestamp and type are set by the server.',
  examples: [{ sender: 'Jose', message: 'Please check the back door' }]
})
export type ChatInput = Static<typeof ChatInput>

// Headers of the publishing routes.
export const PublishHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1,
    maxLength: 200,
    pattern: '^[\\x21-\\x7e]+$',
    description: 'Optional; any 1 to 200 visible ASCII characters, e.g. a UUID. A retry with the same key (within IDEMPOTENCY_TTL_MS, 24 h) gets the first result (with Idempotent-Replayed: true) and publishes nothing; the same key with a different body is 422. Keys are shared by every client and instance: make them unique.',
    examples: ['9b2f6f7e-3c1a-4d7e-8a51-2f1f1f5d0c11']
  }))
})

export const EventType = Type.Unsafe<'alert' | 'chat'>({ type: 'string', enum: ['alert', 'chat'] })
export type EventType = Static<typeof EventType>

export const Alert = Type.Object({ id, timestamp, type: Type.Literal('alert'), message, location }, {
  description: 'An alert as stored and broadcast.'
})
export type Alert = Static<typeof Alert>

export const Chat = Type.Object({ id, timestamp, type: Type.Literal('chat'), sender, message: chatText }, {
  description: 'A chat message as stored and broadcast.'
})
export type Chat = Static<typeof Chat>

export const Event = Type.Union([Alert, Chat])
export type Event = Static<typeof Event>
export type EventOf<T extends EventType> = Extract<Event, { type: T }>

// What a publisher hands over: the event without the fields the server stamps.
export type Draft = { type: 'alert' } & AlertInput | { type: 'chat' } & ChatInput

export const AlertHistory = Type.Object({
  alerts: Type.Array(Alert, { description: 'Oldest first.' }),
  count: Type.Integer({ minimum: 0 })
})
export type AlertHistory = Static<typeof AlertHistory>

export const ChatHistory = Type.Object({
  chatMessages: Type.Array(Chat, { description: 'Oldest first.' }),
  count: Type.Integer({ minimum: 0 })
})
export type ChatHistory = Static<typeof ChatHistory>
