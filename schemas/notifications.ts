import { Type, type Static } from '@sinclair/typebox'

const KINDS = ['raised', 'repeated', 'escalated', 'acknowledged', 'resolved', 'reminder']
const STATUSES = ['pending', 'delivered', 'failed']

export const Delivery = Type.Object({
  id: Type.String({ description: 'The delivery id: the same on every attempt (the webhook\'s X-Alert-Delivery header).' }),
  receiver: Type.String({ description: 'The NOTIFY_FILE receiver.' }),
  event: Type.Unsafe<string>({ type: 'string', enum: KINDS, description: 'What the notification tells (reminder: a route\'s repeat, the alert still open and not acknowledged).' }),
  eventId: Type.String({ description: 'The event told of.' }),
  alertId: Type.String(),
  createdAt: Type.String({ format: 'date-time', description: 'When the event was stored (and the notification with it).' }),
  status: Type.Unsafe<'pending' | 'delivered' | 'failed'>({ type: 'string', enum: STATUSES, description: 'pending (waiting, or being tried), delivered, failed (given up).' }),
  attempts: Type.Integer({ minimum: 0 }),
  nextAttemptAt: Type.Optional(Type.String({ format: 'date-time', description: 'While pending: when it is tried next. While an attempt is under way, when that attempt\'s claim lapses (the attempt\'s timeout and a margin): if the attempt ends first, as it does, the time is set again then.' })),
  lastAttemptAt: Type.Optional(Type.String({ format: 'date-time' })),
  lastStatus: Type.Optional(Type.Integer({ description: 'The receiver\'s HTTP or SMTP status at the last attempt.' })),
  lastError: Type.Optional(Type.String({ description: 'What went wrong at the last attempt (never a URL or a secret).' }))
}, { description: 'One notification of one event to one receiver.' })
export type Delivery = Static<typeof Delivery>

export const DeliveriesQuery = Type.Object({
  receiver: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only this receiver\'s.' })),
  status: Type.Optional(Type.Unsafe<'pending' | 'delivered' | 'failed'>({ type: 'string', enum: STATUSES, description: 'Only those with this status.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 }))
}, { additionalProperties: false })
export type DeliveriesQuery = Static<typeof DeliveriesQuery>

export const Deliveries = Type.Object({
  deliveries: Type.Array(Delivery, { description: 'Newest first.' }),
  count: Type.Integer({ minimum: 0 }),
  pending: Type.Integer({ minimum: 0, description: 'Notifications waiting in the outbox, of every receiver.' }),
  receivers: Type.Array(Type.Object({
    name: Type.String(),
    kind: Type.Unsafe<string>({ type: 'string', enum: ['webhook', 'slack', 'ntfy', 'email'] })
  }), { description: 'The receivers NOTIFY_FILE now names (their names and kinds only: never their URLs or secrets).' })
})
export type Deliveries = Static<typeof Deliveries>
