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

/** A short duration: a whole number and one unit (`30s`, `10m`, `2h`, `1d`, `500ms`, `1w`); core/duration.ts reads it. */
export const DURATION_PATTERN = '^[0-9]{1,9}(ms|s|m|h|d|w)$'

/** A UUID, in either case (RFC 9562 reads them case-insensitively): the `uuid` format (plugins/app/validation.ts) and event ids in `since`. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const id = Type.String({ format: 'uuid', description: 'UUID v4, set by the server.', examples: ['7bb4eacd-9d48-4fff-a9d0-a7caffbd52a8'] })
const timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 in UTC, set by the server.', examples: ['2026-01-01T12:00:00.000Z'] })

// Unknown fields are stripped by the validator (removeAdditional), so a client
// can never set id, timestamp or type.
const enumOf = <T extends string>(values: readonly T[], description: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], description })

export const SEVERITIES = ['info', 'warning', 'critical'] as const
/** A severity's place in SEVERITIES (info 0 < warning 1 < critical 2); -1 for a word that is none. */
export const severityRank = (severity: string): number => (SEVERITIES as readonly string[]).indexOf(severity)
export const Severity = enumOf(SEVERITIES, 'How bad: info < warning < critical.')
export type Severity = Static<typeof Severity>

export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const
export const AlertState = enumOf(ALERT_STATES, 'open -> acknowledged -> resolved, or open -> resolved.')
export type AlertState = Static<typeof AlertState>

export const SOURCES = ['api', 'ticker', 'alertmanager', 'heartbeat', 'pagerduty', 'grafana'] as const
export const Source = enumOf(SOURCES, 'What raised the alert.')
export type Source = Static<typeof Source>

export const CHANGES = ['repeated', 'acknowledged', 'resolved', 'escalated'] as const
export const Change = enumOf(CHANGES, 'What happened to the alert.')
export type Change = Static<typeof Change>

const key = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', [WELL_FORMED]: true, description: 'The identity of the incident: raising an alert with the key of one that is not resolved updates that one instead of adding a second.', examples: ['disk-full:db1'] })
/** An http or https URL (the scheme in any case). */
export const LINK_PATTERN = '^[hH][tT][tT][pP][sS]?://[^\\s]+$'
/** Visible ASCII: what a header value or an external id may hold. */
export const VISIBLE_ASCII = '^[\\x21-\\x7e]+$'
const link = Type.String({ maxLength: 2000, pattern: LINK_PATTERN, description: 'An http or https URL: a runbook, a graph.', examples: ['https://runbooks.example.com/disk-full'] })
const tags = Type.Array(Type.String({ minLength: 1, maxLength: 50, pattern: '\\S', [WELL_FORMED]: true }), { maxItems: 10, description: 'Up to 10 labels of up to 50 characters.', examples: [['db', 'disk']] })
/** The most JSON an alert's details may take; larger details are replaced by a note saying so (plugins/core/details.ts). */
export const DETAILS_MAX_BYTES = 8 * 1024
const details = Type.Record(Type.String(), Type.Unknown(), {
  description: `What the sender added for people to read, kept as it sent it (PagerDuty's custom_details; Grafana's values and links): a JSON object of at most ${DETAILS_MAX_BYTES} bytes. Absent on alerts raised through the API.`,
  examples: [{ firing: 'disk 95% on db1', num_firing: '1' }]
})
const who = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', [WELL_FORMED]: true, description: 'Who did it.', examples: ['Jose'] })

export const AlertInput = Type.Object({
  message,
  location,
  severity: Type.Optional(Severity),
  key: Type.Optional(key),
  link: Type.Optional(link),
  tags: Type.Optional(tags)
}, {
  additionalProperties: false,
  description: 'A manual alert. id, timestamp and type are set by the server; severity defaults to "warning".',
  examples: [{ message: 'Unauthorized door access', location: 'South Gate' }]
})
export type AlertInput = Static<typeof AlertInput>

/** A plain-text alert's body: the message, under the message's rules. */
export const AlertText = Type.String({
  minLength: 1,
  maxLength: 1000,
  pattern: NOT_BLANK,
  [WELL_FORMED]: true,
  description: 'The message, as plain text (UTF-8), with the same rules as `message`; a final line break is dropped. The other fields come from the headers below or the query string.',
  examples: ['Backup failed on db1']
})

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
    pattern: VISIBLE_ASCII,
    // No example: Swagger UI copies one into the "Try it out" form, and every
    // later request from that form would reuse the key (422 for another body).
    description: 'Optional; any 1 to 200 visible ASCII characters, e.g. a new UUID per request. A retry with the same key (within IDEMPOTENCY_TTL_MS, 24 h) gets the first result (with Idempotent-Replayed: true) and publishes nothing; the same key with a different body is 422. Keys are shared by every client and instance: make them unique.'
  }))
})

// A plain-text alert's fields (POST /alerts with a text body); unused with JSON, which carries them itself.
const textField = (description: string) => Type.Optional(Type.String({ description }))
export const AlertHeaders = Type.Object({
  ...PublishHeaders.properties,
  'x-location': textField('With a text body: the location (required here or as ?location=). UTF-8 as sent.'),
  'x-severity': textField('With a text body: info, warning (the default) or critical; also ?severity=.'),
  'x-key': textField('With a text body: the key; also ?key=.'),
  'x-tags': textField('With a text body: tags as a comma list (db,disk); also ?tags=.'),
  'x-link': textField('With a text body: the link; also ?link=.')
})

export const EventType = Type.Unsafe<'alert' | 'chat' | 'alert_update'>({ type: 'string', enum: ['alert', 'chat', 'alert_update'] })
export type EventType = Static<typeof EventType>

export const NOTES_MAX = 20
export const Note = Type.Object({
  at: timestamp,
  by: who,
  action: Type.Unsafe<'acknowledged' | 'resolved'>({ type: 'string', enum: ['acknowledged', 'resolved'], description: 'What was done when the note was given.' }),
  text: Type.String({ maxLength: 1000, description: 'What the person said.' })
}, { description: 'A note given with an acknowledge or a resolve.' })
export type Note = Static<typeof Note>

export const Alert = Type.Object({
  id,
  timestamp,
  type: Type.Literal('alert'),
  message,
  location,
  severity: Severity,
  state: AlertState,
  count: Type.Integer({ minimum: 1, description: 'How many times it was raised.' }),
  updatedAt: { ...timestamp, description: 'When it last changed.' },
  source: Source,
  key: Type.Optional(key),
  link: Type.Optional(link),
  tags: Type.Optional(tags),
  details: Type.Optional(details),
  acknowledgedBy: Type.Optional(who),
  acknowledgedAt: Type.Optional(timestamp),
  resolvedBy: Type.Optional(who),
  resolvedAt: Type.Optional(timestamp),
  escalations: Type.Optional(Type.Integer({ minimum: 1, description: 'How many times it was announced again while nobody acknowledged it.' })),
  escalatedAt: Type.Optional(timestamp),
  notes: Type.Optional(Type.Array(Note, { maxItems: NOTES_MAX, description: `The notes given with acknowledge and resolve, oldest first (the newest ${NOTES_MAX}).` }))
}, {
  description: 'An alert as stored and broadcast: the fields of the original contract first, then its lifecycle.'
})
export type Alert = Static<typeof Alert>

export const Chat = Type.Object({ id, timestamp, type: Type.Literal('chat'), sender, message: chatText }, {
  description: 'A chat message as stored and broadcast.'
})
export type Chat = Static<typeof Chat>

export const AlertBefore = Type.Object({
  severity: Severity,
  location,
  tags: Type.Optional(tags)
}, { description: 'On a repeat that changed them: the severity, location and tags the alert had before (tags absent: it had none). A client filtered on them receives the update that takes an alert out of its filter, and can drop it.' })
export type AlertBefore = Static<typeof AlertBefore>

export const AlertUpdate = Type.Object({
  id: { ...id, description: 'The id of this event (not of the alert: that is alert.id).' },
  timestamp,
  type: Type.Literal('alert_update'),
  change: Change,
  alert: Alert,
  by: Type.Optional(who),
  note: Type.Optional(Type.String({ maxLength: 1000, description: 'What the person who acknowledged or resolved it said.' })),
  previous: Type.Optional(AlertBefore)
}, { description: 'A change to an alert, carrying the whole alert as it now stands.' })
export type AlertUpdate = Static<typeof AlertUpdate>

export const Event = Type.Union([Alert, Chat, AlertUpdate])
export type Event = Static<typeof Event>
export type EventOf<T extends EventType> = Extract<Event, { type: T }>

/** An alert's details (see DETAILS_MAX_BYTES). */
export type AlertDetails = Record<string, unknown>
/** What raises or repeats an alert: the client's input, and the details an integration keeps on it. */
export type AlertFields = AlertInput & { details?: AlertDetails }

// What a publisher hands over: the input, and for alerts what raised it.
export type Draft = { type: 'alert', source?: Source } & AlertFields | { type: 'chat' } & ChatInput

/** Body of acknowledge and resolve. */
export const ActionInput = Type.Object({
  by: Type.Optional({ ...who, description: 'Who does it; "anonymous" when absent. With credentials, the identity is used instead.' }),
  note: Type.Optional(Type.String({ maxLength: 1000, [WELL_FORMED]: true, description: 'Why, or what was done.' }))
}, { additionalProperties: false })
export type ActionInput = Static<typeof ActionInput>

export const ResolveByKeyInput = Type.Object({
  key,
  by: Type.Optional(who),
  note: Type.Optional(Type.String({ maxLength: 1000, [WELL_FORMED]: true }))
}, { additionalProperties: false })
export type ResolveByKeyInput = Static<typeof ResolveByKeyInput>

export const AlertId = Type.Object({ id: Type.String({ format: 'uuid', description: 'The alert\'s id.' }) })

const commaList = (description: string) => Type.String({ maxLength: 2000, description })
export const BoardQuery = Type.Object({
  state: Type.Optional(commaList('Comma list of states.')),
  severity: Type.Optional(commaList('Comma list of severities.')),
  min_severity: Type.Optional(Type.String({ maxLength: 20, description: 'The least severity: info < warning < critical.', examples: ['warning'] })),
  location: Type.Optional(commaList('Comma list of locations.')),
  key: Type.Optional(commaList('Comma list of keys.')),
  tag: Type.Optional(commaList('Comma list of tags: an alert with any of them passes.')),
  since: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'Only alerts changed after this point: an event id (alerts raised or changed by later events; `gap: true` and no restriction when it is no longer retained), ' +
      '"all", a duration back from now ("30s", "10m", "2h", "1d") or an ISO 8601 date-time with its zone (alerts whose updatedAt is later).',
    examples: ['10m', '2026-01-01T12:00:00Z']
  })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 100, description: 'From the previous page\'s `next`.' }))
}, { additionalProperties: false })
export type BoardQuery = Static<typeof BoardQuery>

export const Board = Type.Object({
  alerts: Type.Array(Alert, { description: 'Newest first.' }),
  count: Type.Integer({ minimum: 0 }),
  next: Type.Optional(Type.String({ description: 'Cursor of the next page; absent on the last.' })),
  gap: Type.Optional(Type.Literal(true, { description: 'The event id given as since is no longer retained: the page is not restricted by it.' })),
  silenced: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'The alerts of this page a silence holds now (notified to nobody): alert id to silence id. Absent when none is.' }))
})
export type Board = Static<typeof Board>

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

export const TIMELINE_KINDS = ['raised', 'repeated', 'acknowledged', 'resolved', 'escalated', 'notified', 'notify_failed'] as const
export const TimelineEntry = Type.Object({
  eventId: { ...id, description: 'The event that made the change (a since= point).' },
  at: timestamp,
  kind: enumOf(TIMELINE_KINDS, 'What happened.'),
  by: Type.Optional(who),
  note: Type.Optional(Type.String({ maxLength: 1000 })),
  count: Type.Integer({ minimum: 1, description: 'The alert\'s count after it.' }),
  state: AlertState,
  severity: Severity,
  message,
  location,
  previous: Type.Optional(AlertBefore),
  receiver: Type.Optional(Type.String({ description: 'notified and notify_failed: the NOTIFY_FILE receiver tried.' })),
  attempt: Type.Optional(Type.Integer({ minimum: 1, description: 'notified and notify_failed: which attempt of this delivery (1 for the first).' })),
  result: Type.Optional(Type.Unsafe<'delivered' | 'retrying' | 'failed'>({ type: 'string', enum: ['delivered', 'retrying', 'failed'], description: 'notified and notify_failed: delivered; retrying (failed, tried again later); failed (given up).' })),
  status: Type.Optional(Type.Integer({ description: 'notified and notify_failed: the receiver\'s HTTP or SMTP status, when it answered.' })),
  error: Type.Optional(Type.String({ description: 'notify_failed: what went wrong (never a URL or a secret).' })),
  deliveryId: Type.Optional(Type.String({ description: 'notified and notify_failed: the delivery id, the same on every attempt (the webhook\'s X-Alert-Delivery).' }))
}, { description: 'One change of an alert, with the fields it left; or one attempt to notify a receiver of a change (notified, notify_failed: eventId is the change told).' })
export type TimelineEntry = Static<typeof TimelineEntry>

export const Timeline = Type.Object({
  alert: Alert,
  timeline: Type.Array(TimelineEntry, { description: 'Oldest first.' }),
  count: Type.Integer({ minimum: 0 }),
  complete: Type.Boolean({ description: 'false when the store no longer holds the alert\'s first events (memory and Redis keep REPLAY_WINDOW events of each stream): the timeline then starts later.' })
})
export type Timeline = Static<typeof Timeline>

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const
export const ExportQuery = Type.Object({
  format: Type.Optional(enumOf(EXPORT_FORMATS, 'ndjson (one alert per line, as the API shows it; the default) or csv (a header row, RFC 4180 quoting).')),
  state: Type.Optional(commaList('Comma list of states.')),
  severity: Type.Optional(commaList('Comma list of severities.')),
  min_severity: Type.Optional(Type.String({ maxLength: 20, description: 'The least severity: info < warning < critical.' })),
  location: Type.Optional(commaList('Comma list of locations.')),
  key: Type.Optional(commaList('Comma list of keys.')),
  tag: Type.Optional(commaList('Comma list of tags: an alert with any of them passes.')),
  since: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Only alerts raised after this: a duration back from now ("7d") or an ISO 8601 date-time with its zone.', examples: ['7d'] })),
  until: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Only alerts raised before this: a duration back from now or an ISO 8601 date-time with its zone.', examples: ['2026-01-01T00:00:00Z'] }))
}, { additionalProperties: false })
export type ExportQuery = Static<typeof ExportQuery>
