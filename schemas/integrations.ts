import { Type, type Static } from '@sinclair/typebox'
import { DURATION_PATTERN, NOT_BLANK, Severity, WELL_FORMED } from './events'

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
  fingerprint: Type.String({ minLength: 1, maxLength: 100, pattern: '^[\\x21-\\x7e]+$', description: 'The alert\'s identity in Alertmanager: the key is alertmanager:<fingerprint>.' })
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

const duration = (description: string) => Type.String({ pattern: DURATION_PATTERN, description, examples: ['5m'] })

export const HeartbeatName = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]+$', description: 'Letters, digits, -, _ and .; up to 100.', examples: ['nightly-backup'] })
})

export const HeartbeatQuery = Type.Object({
  every: Type.Optional(duration('How often a ping is expected: a whole number and a unit (ms, s, m, h, d, w), 1s to 365d; 5m for a new monitor, unchanged otherwise.')),
  grace: Type.Optional(duration('How late a ping may be before the miss is raised, 0s to 365d; 1m for a new monitor, unchanged otherwise.')),
  severity: Type.Optional(Severity),
  location: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: NOT_BLANK, [WELL_FORMED]: true, description: 'The location of its alert; the monitor\'s name by default: 1 to 200 characters, not blank, well-formed Unicode.' }))
}, { additionalProperties: false })
export type HeartbeatQuery = Static<typeof HeartbeatQuery>

export const HeartbeatView = Type.Object({
  name: Type.String(),
  every: Type.String({ description: 'As a duration, e.g. 5m.' }),
  grace: Type.String({ description: 'As a duration, e.g. 1m.' }),
  severity: Severity,
  location: Type.String(),
  lastPing: Type.String({ format: 'date-time', description: 'When the last ping arrived.' }),
  due: Type.String({ format: 'date-time', description: 'When a miss is raised if no ping comes first (last ping + every + grace).' }),
  state: Type.Unsafe<'up' | 'missed'>({ type: 'string', enum: ['up', 'missed'], description: 'missed once `due` has passed without a ping, until the next one.' })
}, { description: 'A heartbeat monitor.' })
export type HeartbeatView = Static<typeof HeartbeatView>

export const HeartbeatList = Type.Object({
  heartbeats: Type.Array(HeartbeatView, { description: 'By name.' }),
  count: Type.Integer({ minimum: 0 })
})
