import { Type, type Static } from '@sinclair/typebox'
import { NOT_BLANK, WELL_FORMED } from './events'

/** A comma list, or a list of whole values (each may hold a comma: a key such as "disk,db1"). */
const word = (description: string) => Type.Union([
  Type.String({ minLength: 1, maxLength: 2000 }),
  Type.Array(Type.String({ minLength: 1, maxLength: 2000, [WELL_FORMED]: true }), { minItems: 1, maxItems: 100 })
], { description: `${description} Or a list whose items are whole values, each may hold a comma (a key such as "disk,db1").` })

export const SilenceMatch = Type.Object({
  state: Type.Optional(word('Comma list of states.')),
  severity: Type.Optional(word('Comma list of severities.')),
  min_severity: Type.Optional(Type.String({ maxLength: 20, description: 'The least severity: info < warning < critical.' })),
  location: Type.Optional(word('Comma list of locations.')),
  key: Type.Optional(word('Comma list of keys.')),
  tag: Type.Optional(word('Comma list of tags: an alert with any of them is silenced.'))
}, {
  // Refused, not dropped: a mistyped word would otherwise leave a match that takes every alert.
  propertyNames: { enum: ['state', 'severity', 'min_severity', 'location', 'key', 'tag'] },
  minProperties: 1,
  description: 'The filter words of /ws, /events, the board and NOTIFY_FILE routes; at least one.'
})

export const SilenceInput = Type.Object({
  match: SilenceMatch,
  startsAt: Type.Optional(Type.String({ format: 'date-time', description: 'When it starts (ISO 8601 with a zone); now when absent.' })),
  endsAt: Type.Optional(Type.String({ format: 'date-time', description: 'When it ends; or give duration.' })),
  duration: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}(ms|s|m|h|d|w)$', description: 'How long from its start: 30m, 4h, 1d.', examples: ['4h'] })),
  comment: Type.String({ minLength: 1, maxLength: 1000, pattern: NOT_BLANK, [WELL_FORMED]: true, description: 'Why (a maintenance, a known problem).' }),
  by: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: NOT_BLANK, [WELL_FORMED]: true, description: 'Who; "anonymous" when absent. With a named credential, its name is used instead.' }))
}, { additionalProperties: false })
export type SilenceInput = Static<typeof SilenceInput>

export const SilenceView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  match: SilenceMatch,
  startsAt: Type.String({ format: 'date-time' }),
  endsAt: Type.String({ format: 'date-time' }),
  comment: Type.String(),
  by: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  active: Type.Boolean({ description: 'In force now (false: it starts later).' })
}, { description: 'A silence: alerts its match takes are notified to nobody from startsAt to endsAt.' })
export type SilenceView = Static<typeof SilenceView>

export const Silences = Type.Object({
  silences: Type.Array(SilenceView, { description: 'Those not ended yet, by start.' }),
  count: Type.Integer({ minimum: 0 })
})

export const SilenceId = Type.Object({ id: Type.String({ format: 'uuid', description: 'The silence\'s id.' }) })
