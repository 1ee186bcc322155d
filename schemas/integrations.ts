import { Type, type Static } from '@sinclair/typebox'
import { DURATION_PATTERN, NOT_BLANK, Severity, VISIBLE_ASCII, WELL_FORMED } from './events'
import { ERROR_CODES, type ErrorCode } from './errors'

// Alertmanager's text: any string (label values may be empty), well-formed Unicode.
const amText = (description: string) => Type.String({ maxLength: 10000, [WELL_FORMED]: true, description })
const amMap = (description: string) => Type.Record(Type.String({ maxLength: 200 }), amText('A value.'), { maxProperties: 100, description })

export const AlertmanagerAlert = Type.Object({
  status: Type.Unsafe<'firing' | 'resolved'>({ type: 'string', enum: ['firing', 'resolved'], description: 'firing raises (or repeats) the alert; resolved resolves it.' }),
  labels: amMap('The alert\'s labels: alertname, severity (critical, warning or info; anything else is warning), the location label, the tag labels.'),
  annotations: Type.Optional(amMap('summary (else description) becomes the message.')),
  startsAt: Type.Optional(Type.String({ maxLength: 100 })),
  endsAt: Type.Optional(Type.String({ maxLength: 100 })),
  generatorURL: Type.Optional(Type.String({ maxLength: 10000, description: 'Becomes the link when it is an http(s) URL of at most 2000 characters.' })),
  fingerprint: Type.String({ minLength: 1, maxLength: 100, pattern: VISIBLE_ASCII, description: 'The alert\'s identity in Alertmanager: the key is alertmanager:<fingerprint>.' })
})
export type AlertmanagerAlert = Static<typeof AlertmanagerAlert>

export const AlertmanagerPayload = Type.Object({
  version: Type.Literal('4', { description: 'The webhook payload version; Alertmanager sends "4".' }),
  status: Type.Unsafe<'firing' | 'resolved'>({ type: 'string', enum: ['firing', 'resolved'] }),
  receiver: Type.Optional(amText('The receiver\'s name.')),
  groupKey: Type.Optional(amText('The group\'s key.')),
  truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
  groupLabels: Type.Optional(amMap('Labels the group is formed by.')),
  commonLabels: Type.Optional(amMap('Labels all alerts share.')),
  commonAnnotations: Type.Optional(amMap('Annotations all alerts share.')),
  externalURL: Type.Optional(amText('Alertmanager\'s own URL.')),
  alerts: Type.Array(AlertmanagerAlert, { maxItems: 1000, description: 'Stored all together or not at all: a payload with one malformed alert stores none.' })
}, {
  description: 'Alertmanager\'s webhook payload (version 4).',
  examples: [{
    version: '4',
    status: 'firing',
    receiver: 'alert-server',
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: [{
      status: 'firing',
      labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db1:9100' },
      annotations: { summary: 'Disk almost full on db1' },
      startsAt: '2026-01-01T12:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph?g0.expr=disk',
      fingerprint: 'c3a9d1e2f4b5a6c7'
    }]
  }]
})
export type AlertmanagerPayload = Static<typeof AlertmanagerPayload>

export const AlertmanagerResult = Type.Object({
  raised: Type.Integer({ minimum: 0, description: 'Firing alerts that became new alerts.' }),
  repeated: Type.Integer({ minimum: 0, description: 'Firing alerts whose alert was still open: its count went up.' }),
  resolved: Type.Integer({ minimum: 0, description: 'Resolved alerts whose alert was open here and is now resolved.' })
}, { description: 'What the payload did.' })
export type AlertmanagerResult = Static<typeof AlertmanagerResult>

// Grafana's Go maps are null when empty; its text any string, well-formed Unicode.
const gMap = (description: string) => Type.Unsafe<Record<string, string> | null>({
  type: ['object', 'null'],
  additionalProperties: { type: 'string', maxLength: 10000, [WELL_FORMED]: true },
  propertyNames: { maxLength: 200 },
  maxProperties: 100,
  description
})
const gUrl = (description: string) => Type.Optional(Type.String({ maxLength: 10000, description }))
const gText = (maxLength: number, description: string) => Type.Optional(Type.String({ maxLength, [WELL_FORMED]: true, description }))

export const GrafanaAlert = Type.Object({
  status: Type.Unsafe<'firing' | 'resolved'>({ type: 'string', enum: ['firing', 'resolved'], description: 'firing raises (or repeats) the alert; resolved resolves it.' }),
  labels: gMap('alertname, severity (critical, warning or info; anything else is warning), the location label, the tag labels.'),
  annotations: Type.Optional(gMap('summary (else description) becomes the message; runbook_url the link.')),
  startsAt: Type.Optional(Type.String({ maxLength: 100 })),
  endsAt: Type.Optional(Type.String({ maxLength: 100 })),
  generatorURL: gUrl('The alert rule in Grafana: the link when there is no runbook_url, panelURL or dashboardURL.'),
  fingerprint: Type.Optional(Type.String({ maxLength: 100, pattern: '^[\\x21-\\x7e]*$', description: 'The alert\'s identity: the key is grafana:<fingerprint>. Absent or empty, it is computed from the labels as Grafana computes it.' })),
  silenceURL: gUrl('Kept in the details.'),
  dashboardURL: gUrl('Deprecated by Grafana, still sent: the link when there is no runbook_url or panelURL.'),
  panelURL: gUrl('Deprecated by Grafana, still sent: the link when there is no runbook_url.'),
  imageURL: gUrl('Kept in the details.'),
  values: Type.Optional(Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], maxProperties: 100, description: 'The values of the rule\'s expressions: kept in the details.' })),
  valueString: gText(10000, 'The values as text (older Grafana): kept in the details.')
})
export type GrafanaAlert = Static<typeof GrafanaAlert>

export const GrafanaPayload = Type.Object({
  version: Type.Literal('1', { description: 'The webhook payload version; Grafana sends "1".' }),
  status: Type.Unsafe<'firing' | 'resolved'>({ type: 'string', enum: ['firing', 'resolved'] }),
  receiver: gText(10000, 'The contact point\'s name.'),
  orgId: Type.Optional(Type.Integer()),
  groupKey: gText(10000, 'The group\'s key.'),
  truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
  groupLabels: Type.Optional(gMap('Labels the group is formed by.')),
  commonLabels: Type.Optional(gMap('Labels all alerts share.')),
  commonAnnotations: Type.Optional(gMap('Annotations all alerts share.')),
  externalURL: gText(10000, 'Grafana\'s own URL.'),
  // The legacy fields, deprecated by Grafana and still sent: about the whole group, so unused.
  title: gText(100000, 'Deprecated by Grafana: the group\'s title. Not used.'),
  state: gText(100, 'Deprecated by Grafana: alerting or ok. Not used.'),
  message: gText(1000000, 'Deprecated by Grafana: the group as text. Not used.'),
  alerts: Type.Array(GrafanaAlert, { maxItems: 1000, description: 'Stored all together or not at all: a payload with one malformed alert stores none.' })
}, {
  description: 'Grafana\'s webhook contact point payload (version 1).',
  examples: [{
    receiver: 'alert-server',
    status: 'firing',
    orgId: 1,
    alerts: [{
      status: 'firing',
      labels: { alertname: 'High memory usage', team: 'blue', zone: 'us-1' },
      annotations: { description: 'The system has high memory usage', runbook_url: 'https://myrunbook.com/runbook/1234', summary: 'This alert was triggered for zone us-1' },
      startsAt: '2021-10-12T09:51:03.157076+02:00',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'https://play.grafana.org/alerting/1afz29v7z/edit',
      fingerprint: 'c6eadffa33fcdf37',
      silenceURL: 'https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1',
      dashboardURL: '',
      panelURL: '',
      values: { B: 44.23943737541908, C: 1 }
    }],
    groupLabels: {},
    commonLabels: { team: 'blue' },
    commonAnnotations: {},
    externalURL: 'https://play.grafana.org/',
    version: '1',
    groupKey: '{}:{}',
    truncatedAlerts: 0
  }]
})
export type GrafanaPayload = Static<typeof GrafanaPayload>

const duration = (description: string) => Type.String({ pattern: DURATION_PATTERN, description, examples: ['5m'] })

/** A heartbeat monitor's name: it is part of a path. */
export const HEARTBEAT_NAME_PATTERN = '^[A-Za-z0-9_.-]+$'

export const HeartbeatName = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, pattern: HEARTBEAT_NAME_PATTERN, description: 'Letters, digits, -, _ and .; up to 100.', examples: ['nightly-backup'] })
})

export const HeartbeatQuery = Type.Object({
  every: Type.Optional(duration('How often a ping is expected: a whole number and a unit (ms, s, m, h, d, w), 1s to 365d; 5m for a new monitor, unchanged otherwise. Replaces a schedule; not with schedule.')),
  grace: Type.Optional(duration('How late a ping may be before the miss is raised, and how long a started run may take, 0s to 365d; 1m for a new monitor, unchanged otherwise.')),
  schedule: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'A cron expression (5 fields, or 6 with seconds first; @daily and the like): a ping is expected at each occurrence, and a miss is raised grace after the first occurrence that follows the last ping. Replaces every; not with every.', examples: ['0 3 * * *'] })),
  tz: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The IANA time zone of the schedule (UTC by default; unchanged otherwise). Daylight-saving changes are the zone\'s: a skipped time is expected at the same time after the change, a repeated one once.', examples: ['Europe/Berlin'] })),
  severity: Type.Optional(Severity),
  location: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: NOT_BLANK, [WELL_FORMED]: true, description: 'The location of its alert; the monitor\'s name by default: 1 to 200 characters, not blank, well-formed Unicode.' })),
  token: Type.Optional(Type.String({ description: 'The token (publish scope), for a sender that cannot set an Authorization header. A ping URL with it is a credential: keep it as secret as the token.' }))
}, { additionalProperties: false })
export type HeartbeatQuery = Static<typeof HeartbeatQuery>

export const HeartbeatView = Type.Object({
  name: Type.String(),
  every: Type.String({ description: 'As a duration, e.g. 5m.' }),
  grace: Type.String({ description: 'As a duration, e.g. 1m.' }),
  severity: Severity,
  location: Type.String(),
  lastPing: Type.String({ format: 'date-time', description: 'When the last ping arrived.' }),
  due: Type.String({ format: 'date-time', description: 'When a miss is raised if no ping comes first: last ping + every + grace, or the schedule\'s next occurrence after the last ping + grace, or a started run\'s start + grace.' }),
  state: Type.Unsafe<'up' | 'missed'>({ type: 'string', enum: ['up', 'missed'], description: 'missed once `due` has passed without a ping, or after a failure, until the next success.' }),
  schedule: Type.Optional(Type.String({ description: 'Its cron expression, when it has one (`every` is then the gap between its occurrences when it was set).' })),
  tz: Type.Optional(Type.String({ description: 'The time zone of its schedule.' })),
  startedAt: Type.Optional(Type.String({ format: 'date-time', description: 'When the run in progress started (a /start ping not yet followed by a success or a failure).' }))
}, { description: 'A heartbeat monitor.' })
export type HeartbeatView = Static<typeof HeartbeatView>

export const HeartbeatPingView = Type.Object({
  at: Type.String({ format: 'date-time' }),
  kind: Type.Unsafe<'success' | 'start' | 'fail'>({ type: 'string', enum: ['success', 'start', 'fail'], description: 'success (/ping, /0, POST without a suffix), start (/start), fail (/fail, a non-zero exit status).' }),
  exitStatus: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, description: 'The exit status it reported.' })),
  durationMs: Type.Optional(Type.Integer({ minimum: 0, description: 'How long the run took, when this success or failure ended a started one.' })),
  source: Type.Optional(Type.String({ description: 'The client address it came from.' })),
  userAgent: Type.Optional(Type.String({ description: 'Its User-Agent, control characters replaced, at most 200 characters.' }))
}, { description: 'A ping, as a monitor keeps it.' })
export type HeartbeatPingView = Static<typeof HeartbeatPingView>

export const HeartbeatDetail = Type.Object({
  ...HeartbeatView.properties,
  pings: Type.Array(HeartbeatPingView, { description: 'Its last pings (100 at most), newest first.' })
}, { description: 'A heartbeat monitor with its last pings.' })
export type HeartbeatDetail = Static<typeof HeartbeatDetail>

/** What a ping URL's last segment says: ping (success), start, fail, or an exit status (0 is success, 1 to 255 a failure). */
export const HEARTBEAT_SIGNAL_PATTERN = '^(ping|start|fail|0|[1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$'

export const HeartbeatSignalParams = Type.Object({
  ...HeartbeatName.properties,
  signal: Type.String({ pattern: HEARTBEAT_SIGNAL_PATTERN, description: 'ping, start, fail, or an exit status 0 to 255.', examples: ['start', '0', '1'] })
})

export const HeartbeatList = Type.Object({
  heartbeats: Type.Array(HeartbeatView, { description: 'By name.' }),
  count: Type.Integer({ minimum: 0, description: 'How many are in this answer (in this page, when paged).' }),
  next: Type.Optional(Type.String({ description: 'Paged: the cursor of the next page; absent on the last.' }))
})

// PagerDuty's text: any string, well-formed Unicode; cut to the alert's limits when mapped.
const pdText = (description: string) => Type.String({ maxLength: 10000, [WELL_FORMED]: true, description })
const pdEnum = <T extends string>(values: readonly T[], description: string) => Type.Unsafe<T>({ type: 'string', enum: [...values], description })

export const PAGERDUTY_ACTIONS = ['trigger', 'acknowledge', 'resolve'] as const
export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const
export type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number]

export const PagerDutyPayload = Type.Object({
  summary: Type.Optional(pdText('Becomes the message (cut to 1000 characters). Required for trigger.')),
  source: Type.Optional(pdText('Becomes the location (cut to 200); else component, else client, else "pagerduty".')),
  severity: Type.Optional(pdEnum(PAGERDUTY_SEVERITIES, 'critical and error are critical here, warning is warning, info is info. Required for trigger.')),
  timestamp: Type.Optional(Type.String({ maxLength: 100, description: 'When the sender saw it; the server stamps its own time.' })),
  component: Type.Optional(pdText('A tag; the location when source is blank.')),
  group: Type.Optional(pdText('A tag.')),
  class: Type.Optional(pdText('A tag.')),
  custom_details: Type.Optional(Type.Unknown({ description: 'Kept on the alert as its details (a JSON object; another value is kept under "value"), up to 8 KiB of JSON.' }))
})

export const PagerDutyEvent = Type.Object({
  routing_key: Type.Optional(Type.String({ maxLength: 1000, description: 'A token of this server: publish scope to trigger, operate too to acknowledge or resolve. Senders of PagerDuty events cannot set an Authorization header, so the token goes here; one in an Authorization: Bearer header is used instead when present.' })),
  event_action: pdEnum(PAGERDUTY_ACTIONS, 'trigger raises (or repeats) the alert of the dedup_key; acknowledge and resolve act on the open alert with it.'),
  dedup_key: Type.Optional(Type.String({ maxLength: 255, [WELL_FORMED]: true, description: 'The incident\'s identity at the sender: the alert\'s key is pagerduty:<dedup_key>. A trigger without one gets one, returned in the answer.' })),
  payload: Type.Optional(PagerDutyPayload),
  links: Type.Optional(Type.Array(Type.Object({ href: Type.String({ maxLength: 10000 }), text: Type.Optional(Type.String({ maxLength: 10000 })) }), { maxItems: 100, description: 'The first http(s) href of at most 2000 characters becomes the link.' })),
  images: Type.Optional(Type.Array(Type.Object({ src: Type.String({ maxLength: 10000 }), href: Type.Optional(Type.String({ maxLength: 10000 })), alt: Type.Optional(Type.String({ maxLength: 10000 })) }), { maxItems: 100, description: 'Checked and not used.' })),
  client: Type.Optional(pdText('The sender\'s name; not used.')),
  client_url: Type.Optional(Type.String({ maxLength: 10000, description: 'The link when no link of `links` is usable.' }))
}, {
  // A trigger needs a payload with a summary and a severity; acknowledge and resolve need only the dedup_key.
  // PagerDuty requires source too; some senders leave it out (Uptime Kuma's push monitors), so it falls back.
  if: { properties: { event_action: { const: 'trigger' } } },
  then: { required: ['payload'], properties: { payload: { required: ['summary', 'severity'] } } },
  else: { required: ['dedup_key'], properties: { dedup_key: { minLength: 1 } } },
  description: 'A PagerDuty Events API v2 event.',
  examples: [{
    routing_key: '<a token with the publish scope>',
    event_action: 'trigger',
    dedup_key: 'disk-full-db1',
    payload: { summary: 'Disk almost full on db1', source: 'db1', severity: 'critical', component: 'postgres', group: 'storage', custom_details: { free: '3%' } },
    links: [{ href: 'https://grafana.example.com/d/disk', text: 'Disk dashboard' }]
  }]
})
export type PagerDutyEvent = Static<typeof PagerDutyEvent>

export const PagerDutyAccepted = Type.Object({
  status: Type.Literal('success'),
  message: Type.Literal('Event processed'),
  dedup_key: Type.String({ description: 'The dedup_key as sent, or the one generated for a trigger without one.' })
}, { description: 'As PagerDuty answers: the event was taken. An acknowledge or resolve of a key with no open alert is taken too, and changes nothing.' })
export type PagerDutyAccepted = Static<typeof PagerDutyAccepted>

export const PagerDutyInvalid = Type.Object({
  status: Type.Literal('invalid event'),
  message: Type.Literal('Event object is invalid'),
  errors: Type.Array(Type.String(), { description: 'What is wrong: the first invalid field, or "Invalid routing key".' }),
  code: Type.Unsafe<ErrorCode>({ type: 'string', enum: ERROR_CODES, description: 'This server\'s code for it (VALIDATION_FAILED, INVALID_JSON, TOKEN_INVALID, SCOPE_MISSING, ...), as in its other error answers.' })
}, { description: 'As PagerDuty answers an event it cannot take (not retried by senders): a malformed event, or a routing key that is not a token of this server with the scope the action needs.' })
export type PagerDutyInvalid = Static<typeof PagerDutyInvalid>

export const HeartbeatListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Pages the list: at most this many monitors, by name, and `next` when more follow. Without limit or cursor, every monitor (as before paging).' })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'From the previous page\'s `next`; the page holds 100 monitors unless limit says otherwise.' }))
}, { additionalProperties: false })
export type HeartbeatListQuery = Static<typeof HeartbeatListQuery>
